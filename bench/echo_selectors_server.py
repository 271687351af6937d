"""The Python baseline for the echo benchmark: Real Python's multiconn-server
on `selectors`, asking for EVENT_WRITE only while output is pending.
usage: echo_selectors_server.py HOST PORT   (prints "listening on HOST:PORT")"""
import selectors
import signal
import socket
import sys

sel = selectors.DefaultSelector()
host, port = sys.argv[1], int(sys.argv[2])
lsock = socket.socket()
lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
lsock.bind((host, port))
lsock.listen(1024)
lsock.setblocking(False)
print(f"listening on {host}:{lsock.getsockname()[1]}", flush=True)
sel.register(lsock, selectors.EVENT_READ, data=None)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))

while True:
    for key, mask in sel.select():
        if key.data is None:
            conn, _ = lsock.accept()
            conn.setblocking(False)
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            sel.register(conn, selectors.EVENT_READ, data=bytearray())
            continue
        sock, out = key.fileobj, key.data
        if mask & selectors.EVENT_READ:
            try:
                data = sock.recv(65536)
            except ConnectionError:
                data = b""
            if not data:
                sel.unregister(sock)
                sock.close()
                continue
            out += data
        if out:
            try:
                sent = sock.send(out)
            except BlockingIOError:
                sent = 0
            del out[:sent]
            sel.modify(sock, selectors.EVENT_READ | (selectors.EVENT_WRITE if out else 0), data=out)
