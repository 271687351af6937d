"""multiconn_ring_server (the multiconn echo on sl_ring) end to end: the C
client and the tutorial's Python client, bad input, a client that never reads,
SIGTERM, valgrind; on io_uring and on the forced epoll fallback."""
import random
import socket
import struct
import time

import pytest

from conftest import have_valgrind, run
from test_multiconn import MESSAGES, SEED, python_multiconn_client


@pytest.fixture(params=["default", "epoll"])
def backend(request, monkeypatch):
    if request.param == "epoll":
        monkeypatch.setenv("SOCKLOOP_RING", "epoll")
    return request.param


def test_multiconn_ring_pair_and_the_tutorials_client(server, backend):
    srv = server("multiconn_ring_server")
    out = run("multiconn_client", "127.0.0.1", srv.port, 25)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("Message 1 from client.") == 25
    got = python_multiconn_client(srv.port, 50)
    assert got == {i: b"".join(MESSAGES) for i in range(1, 51)}
    code, stdout, _ = srv.stop()
    assert code == 0 and "stopped:" in stdout


def test_multiconn_ring_survives_bad_input_and_a_client_that_does_not_read(server, backend):
    srv = server("multiconn_ring_server")
    rng = random.Random(SEED)
    abrupt = socket.create_connection(("127.0.0.1", srv.port))
    abrupt.sendall(b"half a mess")
    abrupt.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    abrupt.close()
    payload = rng.randbytes(3_000_000)
    slow = socket.create_connection(("127.0.0.1", srv.port))
    slow.sendall(payload[:200_000])
    time.sleep(0.3)
    # Others are served meanwhile.
    out = run("multiconn_client", "127.0.0.1", srv.port, 5)
    assert out.returncode == 0, out.stderr
    # The slow client now sends the rest while reading: every byte comes back.
    slow.settimeout(20)
    got = bytearray()
    sent = 200_000
    slow.setblocking(False)
    deadline = time.monotonic() + 30
    while len(got) < len(payload):
        assert time.monotonic() < deadline
        if sent < len(payload):
            try:
                sent += slow.send(payload[sent:sent + 65536])
            except BlockingIOError:
                pass
        try:
            got += slow.recv(1 << 20)
        except BlockingIOError:
            time.sleep(0.001)
    assert bytes(got) == payload
    slow.close()
    assert srv.stop()[0] == 0


@pytest.mark.skipif(not have_valgrind(), reason="valgrind not installed")
def test_multiconn_ring_under_valgrind(server):
    srv = server("multiconn_ring_server", valgrind=True)
    out = run("multiconn_client", "127.0.0.1", srv.port, 5, valgrind=True)
    assert out.returncode == 0, out.stderr
    code, _, err = srv.stop()
    assert code == 0, err
