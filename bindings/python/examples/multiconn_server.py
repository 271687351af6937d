#!/usr/bin/env python3
"""Real Python's multiconn-server.py, with sockloop.Selector in place of
selectors.DefaultSelector (the only change but one: EVENT_WRITE is asked for
only while there is output, so select() does not spin).

usage: multiconn_server.py <host> <port>
"""
import socket
import sys
import types

import sockloop

sel = sockloop.Selector()


def accept_wrapper(sock):
    conn, addr = sock.accept()  # Should be ready to read
    print(f"Accepted connection from {addr}", flush=True)
    conn.setblocking(False)
    data = types.SimpleNamespace(addr=addr, inb=b"", outb=b"")
    sel.register(conn, sockloop.EVENT_READ, data=data)


def service_connection(key, mask):
    sock, data = key.fileobj, key.data
    if mask & sockloop.EVENT_READ:
        recv_data = sock.recv(1024)  # Should be ready to read
        if recv_data:
            data.outb += recv_data
        else:
            print(f"Closing connection to {data.addr}", flush=True)
            sel.unregister(sock)
            sock.close()
            return
    if data.outb:
        sent = sock.send(data.outb)  # Should be ready to write
        data.outb = data.outb[sent:]
    want = sockloop.EVENT_READ | (sockloop.EVENT_WRITE if data.outb else 0)
    if want != key.events:
        sel.modify(sock, want, data=data)


def main():
    if len(sys.argv) != 3:
        print(f"Usage: {sys.argv[0]} <host> <port>")
        sys.exit(1)
    host, port = sys.argv[1], int(sys.argv[2])
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((host, port))
    lsock.listen()
    print(f"Listening on {(host, lsock.getsockname()[1])}", flush=True)
    lsock.setblocking(False)
    sel.register(lsock, sockloop.EVENT_READ, data=None)
    try:
        while True:
            for key, mask in sel.select(timeout=None):
                if key.data is None:
                    accept_wrapper(key.fileobj)
                else:
                    service_connection(key, mask)
    except KeyboardInterrupt:
        print("Caught keyboard interrupt, exiting")
    finally:
        sel.close()


if __name__ == "__main__":
    main()
