"""sockloop.Selector past CPython's EpollSelector: a registered socket closed
while a dup of it stays open and readable, then unregistered, leaves a stale
epoll watch. CPython's selector then misses ready sockets with select(0),
reports the stale file under a new registration of the same number, and
spins; sockloop's never does."""
import os
import pathlib
import resource
import socket
import sys
import time

import sockloop  # noqa: E402  (the package under test: see conftest.py)
from selectors import EVENT_READ  # noqa: E402


def stale_watch(sel):
    """Registers a socket, makes its file readable, closes it with a dup left
    open, unregisters its number. Returns (number, keepers)."""
    a, b = socket.socketpair()
    keep = os.dup(a.fileno())
    sel.register(a.fileno(), EVENT_READ, "stale")
    b.send(b"x")
    num = a.fileno()
    a.close()
    sel.unregister(num)
    return num, (keep, b)


def test_ready_socket_reported_on_every_call_with_a_stale_watch():
    sel = sockloop.Selector()
    live, peer = socket.socketpair()
    _num, (keep, b) = stale_watch(sel)
    sel.register(live, EVENT_READ, "live")
    peer.send(b"y")
    for _ in range(50):
        for timeout in (0, 0.01):
            got = [(k.data, ev) for k, ev in sel.select(timeout)]
            assert got == [("live", EVENT_READ)]
    sel.close()
    os.close(keep)
    for s in (b, live, peer):
        s.close()


def test_a_new_registration_of_the_number_inherits_nothing_and_nothing_spins():
    sel = sockloop.Selector()
    fresh, fresh_peer = socket.socketpair()  # before the number is freed
    num, (keep, b) = stale_watch(sel)
    os.dup2(fresh.fileno(), num)
    renumbered = socket.socket(fileno=num)
    sel.register(renumbered, EVENT_READ, "new")
    cpu = resource.getrusage(resource.RUSAGE_SELF)
    start = time.monotonic()
    assert sel.select(0.5) == []
    assert time.monotonic() - start >= 0.5
    after = resource.getrusage(resource.RUSAGE_SELF)
    used = (after.ru_utime - cpu.ru_utime) + (after.ru_stime - cpu.ru_stime)
    assert used < 0.05, f"a 0.5 s select used {used:.3f} s of CPU"
    fresh_peer.send(b"z")
    assert [(k.data, ev) for k, ev in sel.select(1)] == [("new", EVENT_READ)]
    sel.close()
    os.close(keep)
    for s in (b, renumbered, fresh, fresh_peer):
        s.close()
