"""multiconn_server / multiconn_client (Real Python's selectors pair on
sl_selector + sl_conn), http_get against Python's http.server."""
import os
import random
import re
import selectors
import socket
import struct
import subprocess
import sys
import time
import types

import pytest

from conftest import have_valgrind, run

SEED = int(os.environ.get("SL_TEST_SEED", random.randrange(1 << 30)))
MESSAGES = [b"Message 1 from client.", b"Message 2 from client."]


def python_multiconn_client(port, num_conns):
    """The tutorial's multiconn-client.py, on Python's own selectors. Returns
    the bytes each connection got back."""
    sel = selectors.DefaultSelector()
    for i in range(num_conns):
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex(("127.0.0.1", port))
        data = types.SimpleNamespace(connid=i + 1, msg_total=sum(map(len, MESSAGES)), recv=b"",
                                     messages=list(MESSAGES), outb=b"")
        sel.register(sock, selectors.EVENT_READ | selectors.EVENT_WRITE, data=data)
    got = {}
    deadline = time.monotonic() + 20
    while sel.get_map() and time.monotonic() < deadline:
        for key, mask in sel.select(timeout=1):
            sock, data = key.fileobj, key.data
            if mask & selectors.EVENT_READ:
                recv_data = sock.recv(1024)
                data.recv += recv_data
                if not recv_data or len(data.recv) == data.msg_total:
                    got[data.connid] = data.recv
                    sel.unregister(sock)
                    sock.close()
                    continue
            if mask & selectors.EVENT_WRITE:
                if not data.outb and data.messages:
                    data.outb = data.messages.pop(0)
                if data.outb:
                    sent = sock.send(data.outb)
                    data.outb = data.outb[sent:]
                elif not data.messages:
                    sel.modify(sock, selectors.EVENT_READ, data=data)
    sel.close()
    return got


def test_multiconn_pair(server):
    srv = server("multiconn_server")
    out = run("multiconn_client", "127.0.0.1", srv.port, 25)
    assert out.returncode == 0, out.stderr
    for i in range(1, 26):
        assert f"closing connection {i}\n" in out.stdout
    assert out.stdout.count("Message 1 from client.") == 25
    assert srv.stop()[0] == 0


def test_multiconn_server_with_the_tutorials_python_client(server):
    srv = server("multiconn_server")
    got = python_multiconn_client(srv.port, 50)
    assert got == {i: b"".join(MESSAGES) for i in range(1, 51)}


def test_multiconn_client_against_a_python_echo_server():
    proc = subprocess.Popen([sys.executable, os.path.join(os.path.dirname(__file__), "..", "..", "bench",
                                                          "echo_selectors_server.py"), "127.0.0.1", "0"],
                            stdout=subprocess.PIPE, text=True)
    try:
        port = int(re.search(r":(\d+)", proc.stdout.readline()).group(1))
        out = run("multiconn_client", "127.0.0.1", port, 10)
        assert out.returncode == 0 and out.stdout.count("closing connection") == 10, out.stderr
    finally:
        proc.kill()
        proc.wait()


def test_multiconn_server_survives_bad_input_and_stays_fair(server):
    srv = server("multiconn_server")
    rng = random.Random(SEED)
    garbage = socket.create_connection(("127.0.0.1", srv.port))
    garbage.sendall(rng.randbytes(100_000))
    silent = socket.create_connection(("127.0.0.1", srv.port))
    silent.sendall(struct.pack(">I", 60000))  # declares much, then goes silent
    abrupt = socket.create_connection(("127.0.0.1", srv.port))
    abrupt.sendall(b"half a mess")
    abrupt.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    abrupt.close()
    # A big echo the client does not read at first: the server keeps it queued.
    payload = rng.randbytes(2_000_000)
    big = socket.create_connection(("127.0.0.1", srv.port))
    big.sendall(payload[:500_000])
    assert python_multiconn_client(srv.port, 5) == {i: b"".join(MESSAGES) for i in range(1, 6)}
    big.sendall(payload[500_000:])
    big.shutdown(socket.SHUT_WR)
    got = bytearray()
    big.settimeout(10)
    while len(got) < len(payload):
        chunk = big.recv(1 << 20)
        assert chunk, f"echo cut short at {len(got)} (seed {SEED})"
        got += chunk
    assert got == payload, f"seed {SEED}"
    for s in (garbage, silent, big):
        s.close()
    assert srv.stop()[0] == 0


@pytest.mark.skipif(not have_valgrind(), reason="valgrind not installed")
def test_multiconn_under_valgrind(server):
    srv = server("multiconn_server", valgrind=True)
    out = run("multiconn_client", "127.0.0.1", srv.port, 5, valgrind=True)
    assert out.returncode == 0, out.stderr
    code, _, err = srv.stop()
    assert code == 0, err


def test_http_get_against_python_http_server(tmp_path):
    (tmp_path / "hello.txt").write_text("Hello from a local http.server\n")
    proc = subprocess.Popen([sys.executable, "-m", "http.server", "0", "--bind", "127.0.0.1", "--directory",
                             str(tmp_path)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = int(re.search(r"port (\d+)", proc.stdout.readline()).group(1))
        out = run("http_get", "127.0.0.1", port, "/hello.txt")
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith("HTTP/1.0 200") and out.stdout.endswith("Hello from a local http.server\n")
        out = run("http_get", "127.0.0.1", port, "/missing")
        assert out.returncode == 0 and " 404 " in out.stdout.splitlines()[0]
        if have_valgrind():
            assert run("http_get", "127.0.0.1", port, "/hello.txt", valgrind=True).returncode == 0
    finally:
        proc.kill()
        proc.wait()
    assert run("http_get", "127.0.0.1", port, "/").returncode == 1  # refused: reported, not hung
    assert run("http_get", "x", "99999").returncode == 2  # usage


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise AssertionError("no VmRSS")


RSS_BOUND_KIB = 4 * 1024  # the stated bound: server RSS growth under a client that never reads (1.15 MiB measured)


def test_a_client_that_sends_and_never_reads_cannot_grow_the_servers_memory(server):
    """Back-pressure (sl_conn_set_high_water in multiconn_server): a client
    that sends 64 MiB and never reads its echoes gets the server to stop
    reading it once 1 MiB of echo is queued; the server's RSS grows by less
    than 4 MiB (without the mark it would hold the whole 64 MiB) while it
    keeps serving other clients."""
    srv = server("multiconn_server")
    python_multiconn_client(srv.port, 2)  # warm up: buffers allocated once
    base = rss_kib(srv.proc.pid)
    hog = socket.create_connection(("127.0.0.1", srv.port))
    hog.settimeout(2)
    chunk, sent = b"x" * (1 << 20), 0
    try:
        while sent < 64 << 20:
            sent += hog.send(chunk)
    except socket.timeout:
        pass  # the server stopped reading: back-pressure reached the client
    grown = rss_kib(srv.proc.pid) - base
    print(f"server RSS grew {grown} KiB while a client sent {sent >> 20} MiB without reading")
    # Other clients are still served, with the hog still connected.
    assert python_multiconn_client(srv.port, 10) == {i: b"".join(MESSAGES) for i in range(1, 11)}
    assert sent < 64 << 20, "the server never stopped reading the hog"
    if "SL_EXAMPLES_BIN" not in os.environ:  # ASan's shadow memory and quarantine are not the server's
        assert grown < RSS_BOUND_KIB, f"server RSS grew {grown} KiB"
    hog.close()
    assert srv.stop()[0] == 0
