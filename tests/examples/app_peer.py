"""Real Python's application protocol, in Python, as the tutorial writes it:
a server (for app_client) and a client (for app_server). Wire format: a 2-byte
big-endian JSON-header length, a UTF-8 JSON header with byteorder,
content-length, content-type and content-encoding, then the content."""
import json
import socket
import struct
import sys

REQUEST_SEARCH = {
    "morpheus": "Follow the white rabbit. \U0001f430",
    "ring": "In the caves beneath the Misty Mountains. \U0001f48d",
    "\U0001f436": "\U0001f43e Playing ball! \U0001f3d0",
}


def encode_message(content_bytes, content_type, content_encoding):
    header = {"byteorder": sys.byteorder, "content-type": content_type,
              "content-encoding": content_encoding, "content-length": len(content_bytes)}
    header_bytes = json.dumps(header, ensure_ascii=False).encode("utf-8")
    return struct.pack(">H", len(header_bytes)) + header_bytes + content_bytes


def recv_exact(sock, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("peer closed mid-message")
        buf += chunk
    return bytes(buf)


def read_message(sock):
    (hlen,) = struct.unpack(">H", recv_exact(sock, 2))
    header = json.loads(recv_exact(sock, hlen).decode("utf-8"))
    for key in ("byteorder", "content-length", "content-type", "content-encoding"):
        if key not in header:
            raise ValueError(f"Missing required header '{key}'.")
    return header, recv_exact(sock, header["content-length"])


def request(host, port, action, value, raw=None):
    """The tutorial's client: returns ("result", text) or ("response", bytes)."""
    if raw is None:
        if action == "search":
            raw = encode_message(json.dumps({"action": action, "value": value}, ensure_ascii=False).encode("utf-8"),
                                 "text/json", "utf-8")
        else:
            raw = encode_message((action + value).encode("utf-8"), "binary/custom-client-binary-type", "binary")
    with socket.create_connection((host, port), timeout=10) as s:
        s.sendall(raw)
        header, content = read_message(s)
    if header["content-type"] == "text/json":
        return "result", json.loads(content.decode(header["content-encoding"]))["result"]
    return "response", content


def answer(header, content):
    """The tutorial server's response for one request."""
    if header["content-type"] == "text/json":
        req = json.loads(content.decode(header["content-encoding"]))
        action = req.get("action")
        if action == "search":
            query = req.get("value")
            result = REQUEST_SEARCH.get(query) or f"No match for '{query}'."
        else:
            result = f"Error: invalid action '{action}'."
        body = json.dumps({"result": result}, ensure_ascii=False).encode("utf-8")
        return encode_message(body, "text/json", "utf-8")
    return encode_message(b"First 10 bytes of request: " + content[:10], "binary/custom-server-binary-type", "binary")


def serve(count):
    """The tutorial's server for `count` connections on an ephemeral port."""
    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen()
    print(f"listening on 127.0.0.1:{lsock.getsockname()[1]}", flush=True)
    lsock.settimeout(30)
    for _ in range(count):
        conn, _ = lsock.accept()
        with conn:
            conn.settimeout(10)
            header, content = read_message(conn)
            conn.sendall(answer(header, content))
    lsock.close()


if __name__ == "__main__":
    serve(int(sys.argv[1]))
