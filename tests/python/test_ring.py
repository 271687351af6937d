"""sockloop.Ring over real loopback sockets, on both backends: an echo over
many connections with every byte checked, end of stream, argument errors,
signals during a wait (PEP 475)."""
import errno
import os
import signal
import socket
import struct
import time

import pytest

import sockloop
from sockloop.ring import CLOSED, DATA

BACKENDS = [False, True]


def pair():
    listener = socket.create_server(("127.0.0.1", 0))
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    listener.close()
    return client, server


def test_the_fallback_says_epoll_and_the_default_io_uring_where_allowed():
    with sockloop.Ring(force_epoll=True) as r:
        assert r.backend == "epoll"
    with sockloop.Ring() as r:
        try:
            disabled = open("/proc/sys/kernel/io_uring_disabled").read().strip() != "0"
        except OSError:
            disabled = True
        forced = os.environ.get("SOCKLOOP_RING") == "epoll"
        assert r.backend == ("epoll" if disabled or forced else "io_uring")


@pytest.mark.parametrize("force_epoll", BACKENDS)
def test_echo_over_50_connections_keeps_every_frame(force_epoll):
    ring = sockloop.Ring(force_epoll=force_epoll)
    pairs = [pair() for _ in range(50)]
    conns = []
    for i, (client, server) in enumerate(pairs):
        c = sockloop.Conn(server, max_message=4096)
        ring.add(c, i)
        conns.append(c)
        client.setblocking(False)
    want = [b"".join(struct.pack(">I", n) + bytes([i]) * n for n in range(1, 40)) for i in range(50)]
    for (client, _), w in zip(pairs, want):
        client.sendall(w)
    got = [b""] * 50
    deadline = time.monotonic() + 30
    while any(len(g) < len(w) for g, w in zip(got, want)):
        assert time.monotonic() < deadline
        for conn, data, events, error in ring.wait(0.01):
            assert (events, error) == (DATA, 0) and conn is conns[data]
            for frame in conn.frames():
                conn.queue_frame(frame)
        for i, (client, _) in enumerate(pairs):
            try:
                got[i] += client.recv(65536)
            except BlockingIOError:
                pass
    assert got == want
    for c in conns:
        ring.remove(c)
        c.close()
    ring.close()
    for client, server in pairs:
        client.close()
        server.close()


@pytest.mark.parametrize("force_epoll", BACKENDS)
def test_fin_mid_frame_is_closed_once_with_the_partial_frame_buffered(force_epoll):
    client, server = pair()
    with sockloop.Ring(force_epoll=force_epoll) as ring:
        c = sockloop.Conn(server)
        ring.add(c, "x")
        client.sendall(b"\0\0\0\x05ab")
        client.shutdown(socket.SHUT_WR)
        seen = 0
        deadline = time.monotonic() + 10
        while not seen & CLOSED:
            assert time.monotonic() < deadline
            for conn, data, events, _ in ring.wait(0.1):
                assert conn is c and data == "x"
                seen |= events
        assert c.buffered == 6 and c.frames() == []
        assert ring.wait(0.03) == []
        ring.remove(c)
    c.close()
    client.close()
    server.close()


def test_argument_errors_are_python_exceptions():
    client, server = pair()
    ring = sockloop.Ring()
    c = sockloop.Conn(server)
    with pytest.raises(FileNotFoundError):
        ring.remove(c)
    ring.add(c)
    with pytest.raises(FileExistsError):
        ring.add(c)
    with pytest.raises(ValueError):
        ring.wait(-1)
    ring.remove(c)
    ring.close()
    with pytest.raises(ValueError):
        ring.wait(0)
    c.close()
    client.close()
    server.close()


def test_a_fill_while_the_ring_receives_into_the_buffer_is_ebusy():
    # On io_uring the ring receives straight into a new conn's buffer: a
    # fill or blocking read meanwhile (forbidden while it is registered) is
    # refused, and the ring then delivers; after remove the conn is usable.
    client, server = pair()
    with sockloop.Ring() as ring:
        if ring.backend != "io_uring":
            pytest.skip("no io_uring here")
        c = sockloop.Conn(server)
        ring.add(c, "x")
        assert ring.wait(0) == []
        for call in (c.fill, lambda: c.read_frame(timeout=0.01)):
            with pytest.raises(OSError) as e:
                call()
            assert e.value.errno == errno.EBUSY
        client.sendall(b"\0\0\0\x02ok")
        got = []
        deadline = time.monotonic() + 10
        while not got:
            assert time.monotonic() < deadline
            for conn, data, events, error in ring.wait(0.1):
                assert (conn, data, events, error) == (c, "x", DATA, 0)
                got += conn.frames()
        assert got == [b"ok"]
        ring.remove(c)
    client.sendall(b"\0\0\0\x04hand")
    assert c.read_frame(timeout=5) == b"hand"
    c.close()
    client.close()
    server.close()


@pytest.mark.parametrize("force_epoll", BACKENDS)
def test_a_signal_runs_its_handler_and_the_wait_goes_on_unless_it_raises(force_epoll):
    calls = []

    def note(signum, frame):
        calls.append(signum)

    old = signal.signal(signal.SIGALRM, note)
    try:
        with sockloop.Ring(force_epoll=force_epoll) as ring:
            signal.setitimer(signal.ITIMER_REAL, 0.05)
            start = time.monotonic()
            assert ring.wait(0.3) == []
            assert calls and time.monotonic() - start >= 0.29

            def boom(signum, frame):
                raise KeyboardInterrupt

            signal.signal(signal.SIGALRM, boom)
            signal.setitimer(signal.ITIMER_REAL, 0.05)
            with pytest.raises(KeyboardInterrupt):
                ring.wait(5)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
