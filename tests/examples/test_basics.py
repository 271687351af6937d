"""End to end: echo_server/echo_client, threaded_echo_server, buffer_sizes and
byteorder_demo, with the tutorial's Python peers, bad input and valgrind."""
import os
import random
import socket
import struct
import threading
import time

import pytest

from conftest import have_valgrind, run

SEED = int(os.environ.get("SL_TEST_SEED", random.randrange(1 << 30)))


def py_echo_exchange(port, payload, chunk_seed=SEED):
    """The tutorial's Python client, sending in random chunks and reading the
    whole echo back."""
    rng = random.Random(chunk_seed)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        at = 0
        while at < len(payload):
            n = rng.randint(1, 5000)
            s.sendall(payload[at:at + n])
            at += n
        s.shutdown(socket.SHUT_WR)
        got = bytearray()
        while True:
            data = s.recv(65536)
            if not data:
                break
            got += data
    return bytes(got)


def test_echo_client_single_message_and_stdin_loop(server):
    srv = server("echo_server")
    out = run("echo_client", "127.0.0.1", srv.port, "Hello, world")
    assert out.returncode == 0 and out.stdout == "Received Hello, world\n"
    lines = "".join(f"line {i} {'x' * i}\n" for i in range(50))
    out = run("echo_client", "127.0.0.1", srv.port, input=lines)
    assert out.returncode == 0 and out.stdout == lines
    code, stdout, _ = srv.stop()
    assert code == 0 and stdout.count("connected by 127.0.0.1:") == 2


def test_echo_server_with_a_python_peer(server):
    srv = server("echo_server")
    payload = random.Random(SEED).randbytes(300_000)
    assert py_echo_exchange(srv.port, payload) == payload, f"seed {SEED}"


def test_echo_servers_survive_bad_input(server):
    for name in ("echo_server", "threaded_echo_server"):
        srv = server(name)
        # garbage bytes (an echo server echoes anything)
        garbage = bytes(range(256)) * 10
        assert py_echo_exchange(srv.port, garbage) == garbage
        # a header that declares 60,000 bytes, then an abrupt close (RST)
        s = socket.create_connection(("127.0.0.1", srv.port))
        s.sendall(struct.pack(">I", 60000) + b"partial")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        time.sleep(0.1)
        # and the next client is served
        assert py_echo_exchange(srv.port, b"still here") == b"still here"
        code, _, err = srv.stop()
        assert code == 0, err


def test_threaded_server_serves_clients_concurrently(server):
    srv = server("threaded_echo_server")
    silent = socket.create_connection(("127.0.0.1", srv.port))  # never sends: must not block others
    silent.sendall(struct.pack(">I", 60000))
    results = {}

    def client(i):
        payload = random.Random(SEED + i).randbytes(20_000 + i)
        results[i] = py_echo_exchange(srv.port, payload, SEED + i) == payload

    threads = [threading.Thread(target=client, args=(i,)) for i in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert results == {i: True for i in range(20)}, f"seed {SEED}"
    silent.close()
    assert srv.stop()[0] == 0


def test_buffer_sizes_reports_what_the_kernel_granted():
    out = run("buffer_sizes")
    assert out.returncode == 0, out.stderr
    assert "after asking for 4096:" in out.stdout
    line = [ln for ln in out.stdout.splitlines() if "asking for 4096" in ln][0]
    assert "SO_SNDBUF=8192 SO_RCVBUF=8192" in line  # Linux doubles the value set


def test_byteorder_demo_prints_exact_layouts():
    out = run("byteorder_demo")
    assert out.returncode == 0, out.stderr
    assert "16-bit 1 in network order:     00 01" in out.stdout
    assert "record on the wire:            07 1f 90 07 5b cd 15 00 00 01 8b cf e5 68 7b" in out.stdout
    assert "decoded: kind=7 port=8080 id=123456789 timestamp=1700000000123" in out.stdout


@pytest.mark.skipif(not have_valgrind(), reason="valgrind not installed")
def test_examples_under_valgrind(server):
    for name in ("echo_server", "threaded_echo_server"):
        srv = server(name, valgrind=True)
        out = run("echo_client", "127.0.0.1", srv.port, "under valgrind", valgrind=True)
        assert out.returncode == 0, out.stderr
        assert py_echo_exchange(srv.port, b"abc" * 1000) == b"abc" * 1000
        code, _, err = srv.stop()
        assert code == 0, f"{name} under valgrind: {err}"
    for name in ("buffer_sizes", "byteorder_demo"):
        out = run(name, valgrind=True)
        assert out.returncode == 0, f"{name}: {out.stderr}"


def test_howto_mysocket_fixed_then_length_prefixed():
    out = run("howto_mysocket")
    assert out.returncode == 0, out.stderr
    for line in ("client: fixed reply: ok: hello, fixed world", "client: fixed reply: ok: second message",
                 'client: echoed frame 1: "short"', 'client: echoed frame 2: "a somewhat longer message"',
                 'client: echoed frame 3: ""', "server: frame of 25 bytes: a somewhat longer message"):
        assert line in out.stdout, out.stdout
    if have_valgrind():
        assert run("howto_mysocket", valgrind=True).returncode == 0


def test_echo_server_drops_a_silent_client_and_serves_the_next(server):
    srv = server("echo_server")
    silent = socket.create_connection(("127.0.0.1", srv.port))
    silent.sendall(struct.pack(">I", 60000))  # declares 60,000 bytes, then silence
    time.sleep(0.2)
    start = time.monotonic()
    assert py_echo_exchange(srv.port, b"next client") == b"next client"
    assert 4.0 < time.monotonic() - start < 10.0  # served once the 5 s idle limit dropped the first
    silent.close()
    code, _, err = srv.stop()
    assert code == 0 and "idle for 5000 ms" in err
