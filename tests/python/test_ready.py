"""ctypes tests for readiness: sl_wait_readable/writable, sl_select and sl_selector."""
import ctypes
import errno
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest

from conftest import declare

c_int_p = ctypes.POINTER(ctypes.c_int)
c_size_p = ctypes.POINTER(ctypes.c_size_t)
SL_READ, SL_WRITE = 1, 2


class Event(ctypes.Structure):
    _fields_ = [("fd", ctypes.c_int), ("events", ctypes.c_int), ("data", ctypes.c_void_p)]


class Api:
    def __init__(self, lib):
        self.wait_readable = declare(lib, "sl_wait_readable", ctypes.c_int, ctypes.c_int, ctypes.c_int)
        self.wait_writable = declare(lib, "sl_wait_writable", ctypes.c_int, ctypes.c_int, ctypes.c_int)
        self.sl_select = declare(
            lib, "sl_select", ctypes.c_int,
            c_int_p, ctypes.c_size_t, c_int_p, ctypes.c_size_t, c_int_p, ctypes.c_size_t, ctypes.c_int,
            c_int_p, c_size_p, c_int_p, c_size_p, c_int_p, c_size_p)
        self.new = declare(lib, "sl_selector_new", ctypes.c_void_p)
        self.free = declare(lib, "sl_selector_free", None, ctypes.c_void_p)
        self.register = declare(lib, "sl_selector_register", ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p)
        self.modify = declare(lib, "sl_selector_modify", ctypes.c_int, ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_void_p)
        self.unregister = declare(lib, "sl_selector_unregister", ctypes.c_int, ctypes.c_void_p, ctypes.c_int)
        self.get = declare(lib, "sl_selector_get", ctypes.c_int, ctypes.c_void_p, ctypes.c_int, c_int_p, ctypes.POINTER(ctypes.c_void_p))
        self.select_events = declare(lib, "sl_selector_select", ctypes.c_int, ctypes.c_void_p, ctypes.POINTER(Event), ctypes.c_size_t, ctypes.c_int)

    def select(self, readers, writers, errs, timeout_ms):
        """Python's select.select over the C function: (rc, r, w, e) or (-1, errno)."""
        arrays = [(ctypes.c_int * max(len(fds), 1))(*fds) for fds in (readers, writers, errs)]
        outs = [(ctypes.c_int * max(len(fds), 1))() for fds in (readers, writers, errs)]
        counts = [ctypes.c_size_t(99) for _ in range(3)]
        rc = self.sl_select(arrays[0], len(readers), arrays[1], len(writers), arrays[2], len(errs), timeout_ms,
                            outs[0], ctypes.byref(counts[0]), outs[1], ctypes.byref(counts[1]),
                            outs[2], ctypes.byref(counts[2]))
        if rc < 0:
            assert [c.value for c in counts] == [0, 0, 0]
            return -1, ctypes.get_errno()
        return rc, *[list(out[: c.value]) for out, c in zip(outs, counts)]

    def events(self, sel, capacity, timeout_ms):
        out = (Event * capacity)()
        n = self.select_events(sel, out, capacity, timeout_ms)
        if n < 0:
            return -1, ctypes.get_errno()
        return [(e.fd, e.events, e.data) for e in out[:n]]


@pytest.fixture
def api(lib):
    return Api(lib)


@pytest.fixture
def selector(api):
    sel = api.new()
    assert sel
    yield sel
    api.free(sel)


def err(rc):
    return rc, (ctypes.get_errno() if rc < 0 else 0)


def test_wait_readable_and_writable(api):
    a, b = socket.socketpair()
    assert api.wait_readable(a.fileno(), 0) == 0
    t0 = time.monotonic()
    assert api.wait_readable(a.fileno(), 30) == 0
    assert time.monotonic() - t0 >= 0.030
    assert api.wait_writable(a.fileno(), 0) == 1
    b.send(b"x")
    assert api.wait_readable(a.fileno(), 1000) == 1
    b.close()
    assert api.wait_readable(a.fileno(), 1000) == 1  # hang-up counts as ready
    assert err(api.wait_readable(-1, 0)) == (-1, errno.EINVAL)
    assert err(api.wait_writable(a.fileno(), -2)) == (-1, errno.EINVAL)
    fd = a.fileno()
    a.close()
    assert err(api.wait_readable(fd, 0)) == (-1, errno.EBADF)


def test_select_subsets_timeout_and_errors(api):
    a, b = socket.socketpair()
    c, d = socket.socketpair()
    d.send(b"x")
    rc, r, w, e = api.select([a.fileno(), c.fileno()], [a.fileno()], [a.fileno()], 1000)
    assert (rc, r, w, e) == (2, [c.fileno()], [a.fileno()], [])
    assert api.select([a.fileno()], [], [a.fileno()], 0) == (0, [], [], [])
    assert api.select([a.fileno(), -1], [], [], 0) == (-1, errno.EINVAL)
    closed = socket.socket()
    fd = closed.fileno()
    closed.close()
    assert api.select([a.fileno()], [fd], [], 1000) == (-1, errno.EBADF)
    for s in (a, b, c, d):
        s.close()


def test_fd_5000_works_in_every_function(api, selector):
    a, b = socket.socketpair()
    with pytest.raises(OSError):
        os.fstat(5000)
    os.dup2(a.fileno(), 5000)
    try:
        assert api.wait_readable(5000, 0) == 0
        assert api.wait_writable(5000, 0) == 1
        b.send(b"x")
        assert api.wait_readable(5000, 1000) == 1
        assert api.select([5000], [5000], [5000], 1000) == (2, [5000], [5000], [])
        assert api.register(selector, 5000, SL_READ, 5) == 0
        assert api.events(selector, 4, 1000) == [(5000, SL_READ, 5)]
        assert api.modify(selector, 5000, SL_WRITE, 6) == 0
        assert api.events(selector, 4, 1000) == [(5000, SL_WRITE, 6)]
        assert api.unregister(selector, 5000) == 0
    finally:
        os.close(5000)
    a.close()
    b.close()


def test_selector_error_codes(api, selector):
    a, b = socket.socketpair()
    fd = a.fileno()
    assert err(api.register(selector, fd, 0, None)) == (-1, errno.EINVAL)
    assert err(api.register(selector, fd, 4, None)) == (-1, errno.EINVAL)
    assert err(api.register(selector, -1, SL_READ, None)) == (-1, errno.EINVAL)
    assert err(api.register(None, fd, SL_READ, None)) == (-1, errno.EINVAL)
    assert err(api.modify(selector, fd, SL_READ, None)) == (-1, errno.ENOENT)
    assert err(api.unregister(selector, fd)) == (-1, errno.ENOENT)
    assert api.register(selector, fd, SL_READ, 42) == 0
    assert err(api.register(selector, fd, SL_READ, None)) == (-1, errno.EEXIST)
    assert err(api.modify(selector, fd, 8, None)) == (-1, errno.EINVAL)
    events, data = ctypes.c_int(0), ctypes.c_void_p(0)
    assert api.get(selector, fd, ctypes.byref(events), ctypes.byref(data)) == 0
    assert (events.value, data.value) == (SL_READ, 42)
    assert api.unregister(selector, fd) == 0
    assert err(api.get(selector, fd, None, None)) == (-1, errno.ENOENT)
    assert api.events(selector, 0, 0) == (-1, errno.EINVAL)
    api.free(None)  # a no-op
    a.close()
    b.close()


def test_selector_events_masking_and_fairness(api, selector):
    pairs = [socket.socketpair() for _ in range(5)]
    for i, (a, b) in enumerate(pairs):
        assert api.register(selector, a.fileno(), SL_READ, i + 1) == 0
    assert api.events(selector, 8, 0) == []
    for _, b in pairs:
        b.send(b"x")
    seen = {}
    for _ in range(5):  # capacity 2, 5 ready: round-robin, none starves
        for fd, ev, data in api.events(selector, 2, 1000):
            assert ev == SL_READ and pairs[data - 1][0].fileno() == fd
            seen[data] = seen.get(data, 0) + 1
    assert seen == {i: 2 for i in range(1, 6)}
    # Hang-up shows as read + write, masked by the registration.
    assert api.modify(selector, pairs[0][0].fileno(), SL_READ | SL_WRITE, 1) == 0
    for a, _ in pairs[1:]:
        assert api.unregister(selector, a.fileno()) == 0
    assert api.events(selector, 8, 1000) == [(pairs[0][0].fileno(), SL_READ | SL_WRITE, 1)]
    for a, b in pairs:
        a.close()
        b.close()


HOLDER = """
import socket, sys
listener = socket.socket(fileno=int(sys.argv[1]))
held = [listener.accept()[0] for _ in range(int(sys.argv[2]))]
sys.stdout.write("ready\\n"); sys.stdout.flush()
sys.stdin.read()
"""


def test_ten_thousand_idle_connections_and_one_active(api, selector):
    idle_count = 10_000
    listener = socket.create_server(("127.0.0.1", 0), backlog=4096)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(listener.fileno()), str(idle_count)],
                              pass_fds=[listener.fileno()], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        idle = [socket.create_connection(listener.getsockname()) for _ in range(idle_count)]
        listener.close()
        assert holder.stdout.readline() == "ready\n"
        for s in idle:
            assert api.register(selector, s.fileno(), SL_READ, None) == 0
        a, b = socket.socketpair()
        assert api.register(selector, a.fileno(), SL_READ, 7) == 0
        assert api.events(selector, 64, 0) == []
        b.send(b"x")
        assert api.events(selector, 64, 1000) == [(a.fileno(), SL_READ, 7)]
        fds = [s.fileno() for s in idle] + [a.fileno()]
        assert api.select(fds, [], [], 1000) == (1, [a.fileno()], [], [])
        for s in idle:
            s.close()
        a.close()
        b.close()
    finally:
        holder.stdin.close()
        assert holder.wait(timeout=30) == 0


def test_signal_storm_never_ends_a_wait_early(api, selector):
    a, b = socket.socketpair()
    assert api.register(selector, a.fileno(), SL_READ, None) == 0
    count = [0]

    def on_alarm(signum, frame):
        count[0] += 1

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.siginterrupt(signal.SIGALRM, True)  # no SA_RESTART: waits see EINTR
    # The C default on this thread: the sockloop package, imported by
    # conftest, installs an interrupt check on the main thread.
    from sockloop._signals import c_default
    no_check = c_default()
    no_check.__enter__()
    signal.setitimer(signal.ITIMER_REAL, 0.0005, 0.0005)
    try:
        t0 = time.monotonic()
        r1 = api.wait_readable(a.fileno(), 100)
        t1 = time.monotonic()
        r2 = api.select([a.fileno()], [], [], 100)
        t2 = time.monotonic()
        r3 = api.events(selector, 4, 100)
        t3 = time.monotonic()
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0, 0)
        signal.signal(signal.SIGALRM, old)
        no_check.__exit__()
    assert count[0] > 0  # Python runs its handler between calls: at least once
    assert r1 == 0 and t1 - t0 >= 0.1
    assert r2 == (0, [], [], []) and t2 - t1 >= 0.1
    assert r3 == [] and t3 - t2 >= 0.1
    a.close()
    b.close()
