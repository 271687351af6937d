"""sockloop.Selector against selectors.DefaultSelector: the same operations, in
lockstep on the same sockets, must give the same results and exceptions.

Fixed sequences cover the cases a drop-in has to get right (closed and bogus
file objects, odd event masks, modify with nothing changed, closed-while-
registered, after close(), huge timeouts, more ready fds than 1024); random
sequences (SL_TEST_SEED to replay) cover the rest.
"""
import math
import os
import random
import selectors
import socket
import tempfile

import pytest

import sockloop

SEED = int(os.environ.get("SL_TEST_SEED", random.randrange(1 << 30)))


def outcome(fn):
    """('ok', value) or ('raise', type, message, errno)."""
    try:
        return ("ok", fn())
    except Exception as exc:  # noqa: BLE001 - the exception is the result
        return ("raise", type(exc), str(exc), getattr(exc, "errno", None))


def normal(value):
    """Comparable form of a result: select lists in fd order, mappings as dicts."""
    if isinstance(value, list) and value and isinstance(value[0], tuple) and \
            isinstance(value[0][0], selectors.SelectorKey):
        return sorted(value, key=lambda kv: kv[0].fd)
    return value


class World:
    """Socket pairs and odd file objects shared by both selectors."""

    def __init__(self, pairs=4):
        self.pairs = [socket.socketpair() for _ in range(pairs)]
        for a, b in self.pairs:
            a.setblocking(False)
            b.setblocking(False)
        self.file = tempfile.TemporaryFile()
        self.closed = socket.socket()
        self.closed.close()
        self.std = selectors.DefaultSelector()
        self.ours = sockloop.Selector()
        self.steps = []

    def objects(self):
        socks = [a for a, _ in self.pairs]
        fd0 = socks[0].fileno()
        return socks + [fd0 if fd0 >= 0 else 3, self.closed, -1, "foo", 3.0, None, 2**32 + max(fd0, 0),
                        self.file, True, BadFileno()]

    def close(self):
        self.std.close()
        self.ours.close()
        for a, b in self.pairs:
            a.close()
            b.close()
        self.file.close()

    def both(self, name, op):
        """Applies op(selector) to both and requires the same outcome."""
        self.steps.append(name)
        want, got = outcome(lambda: op(self.std)), outcome(lambda: op(self.ours))
        if want[0] == "ok" and got[0] == "ok":
            want, got = ("ok", normal(want[1])), ("ok", normal(got[1]))
        assert got == want, f"{name} differs (last steps: {self.steps[-12:]}, seed {SEED})"
        return got


class BadFileno:
    def fileno(self):
        return "seven"


EVENTS = [0, 1, 2, 3, 4, 5, -1, 8, "1", None, 1.0, True]
TIMEOUTS = [0, -1, -0.5, 0.001, 1e-9, 0.0004, "x", float("nan"), float("inf"), 1e10, 3e6, 2147483.647,
            2147483.648, 2147483, 2147484, None]


def do_select(w, timeout):
    if timeout is None or (not isinstance(timeout, str) and not math.isnan(timeout) and timeout > 0.01):
        # Only when something is ready, so the test never blocks.
        if not w.std.get_map() or not outcome(lambda: w.std.select(0))[1]:
            timeout = 0
    w.both(f"select({timeout!r})", lambda s: s.select(timeout))


def map_ops(w, obj):
    w.both(f"len(map) for {obj!r}", lambda s: len(s.get_map()))
    w.both(f"{obj!r} in map", lambda s: obj in s.get_map())
    w.both(f"map[{obj!r}]", lambda s: s.get_map()[obj])
    w.both(f"map.get({obj!r})", lambda s: s.get_map().get(obj))
    w.both("list(map)", lambda s: sorted(s.get_map()))
    w.both("map == dict", lambda s: s.get_map() == {k.fd if False else k: v for k, v in s.get_map().items()})
    w.both("map items", lambda s: sorted(s.get_map().items(), key=lambda kv: kv[0]))


def test_the_cases_the_issue_lists():
    w = World()
    try:
        a, b = w.pairs[0]
        c, d = w.pairs[1]
        for obj in w.objects():
            w.both(f"register({obj!r})", lambda s: s.register(obj, selectors.EVENT_READ, "x"))
        for events in EVENTS:
            w.both(f"modify(a, {events!r})", lambda s: s.modify(a, events, "m"))
            w.both(f"get_key(a) after modify {events!r}", lambda s: s.get_key(a))
            do_select(w, 0)
        w.both("register c", lambda s: s.register(c, selectors.EVENT_READ | selectors.EVENT_WRITE, [1]))
        w.both("modify c, nothing changed", lambda s: s.modify(c, selectors.EVENT_READ | selectors.EVENT_WRITE, [1]))
        w.both("modify c, data only", lambda s: s.modify(c, selectors.EVENT_READ | selectors.EVENT_WRITE, [2]))
        d.send(b"x")
        do_select(w, 0)
        do_select(w, None)
        for t in TIMEOUTS:
            do_select(w, t)
        map_ops(w, c)
        map_ops(w, "foo")
        map_ops(w, w.closed)
        # A socket closed while registered.
        c.close()
        for name, op in (("get_key", lambda s: s.get_key(c)), ("map[c]", lambda s: s.get_map()[c]),
                         ("modify", lambda s: s.modify(c, selectors.EVENT_READ)),
                         ("unregister", lambda s: s.unregister(c)), ("unregister again", lambda s: s.unregister(c))):
            w.both(f"{name} of a closed socket", op)
        w.both("fileno type", lambda s: type(s.fileno()))
        # After close().
        w.both("close", lambda s: s.close())
        for name, op in (("get_map", lambda s: s.get_map()), ("get_key", lambda s: s.get_key(a)),
                         ("register", lambda s: s.register(b, selectors.EVENT_READ)),
                         ("register bad", lambda s: s.register("foo", selectors.EVENT_READ)),
                         ("modify", lambda s: s.modify(a, selectors.EVENT_READ)),
                         ("unregister", lambda s: s.unregister(a)), ("select", lambda s: s.select(0)),
                         ("fileno", lambda s: s.fileno()), ("close twice", lambda s: s.close())):
            w.both(f"{name} after close", op)
    finally:
        w.close()


def test_hang_up_on_an_fd_whose_mask_is_empty():
    w = World()
    try:
        a, b = w.pairs[0]
        w.both("register", lambda s: s.register(a, selectors.EVENT_READ))
        w.both("modify to 0", lambda s: s.modify(a, 0))
        do_select(w, 0)
        b.close()  # hang-up: epoll reports it even with an empty mask
        do_select(w, 0)
        w.both("modify back", lambda s: s.modify(a, selectors.EVENT_READ))
        do_select(w, 0)
    finally:
        w.close()


def test_an_empty_mask_fd_closed_and_its_number_reused_by_a_hung_up_socket():
    # epoll drops the watch with the file; the new file on the same number is not reported.
    w = World()
    try:
        a, b = w.pairs[0]
        fd = a.fileno()
        w.both("register", lambda s: s.register(a, selectors.EVENT_READ))
        w.both("modify to 0", lambda s: s.modify(a, 0))
        a.close()
        b.close()
        c, d = socket.socketpair()
        try:
            if fd not in (c.fileno(), d.fileno()):
                pytest.skip(f"fd {fd} was not reused")
            (d if c.fileno() == fd else c).close()  # the socket now on fd is hung up
            do_select(w, 0)
        finally:
            c.close()
            d.close()
    finally:
        w.close()


def test_every_ready_fd_is_reported_past_1024():
    std, ours = selectors.DefaultSelector(), sockloop.Selector()
    pairs = [socket.socketpair() for _ in range(1100)]
    try:
        for i, (a, b) in enumerate(pairs):
            std.register(a, selectors.EVENT_WRITE, i)
            ours.register(a, selectors.EVENT_WRITE, i)
        want = sorted(k.data for k, _ in std.select(0))
        assert len(want) == 1100
        assert sorted(k.data for k, _ in ours.select(0)) == want
        assert len(ours.get_map()) == 1100 and ours.get_map()[pairs[7][0]].data == 7
    finally:
        std.close()
        ours.close()
        for a, b in pairs:
            a.close()
            b.close()


@pytest.mark.parametrize("round_", range(40))
def test_random_operation_sequences(round_):
    rng = random.Random(SEED * 100 + round_)
    w = World(pairs=3)
    try:
        for _ in range(60):
            objs = w.objects()
            obj = rng.choice(objs[:3] * 4 + objs[3:])
            op = rng.randrange(12)
            if op <= 2:
                ev = rng.choice([1, 2, 3] * 4 + EVENTS)
                w.both(f"register({obj!r}, {ev!r})", lambda s: s.register(obj, ev, op))
            elif op <= 4:
                ev = rng.choice([1, 2, 3] * 4 + EVENTS)
                data = rng.choice([None, op, "d"])
                w.both(f"modify({obj!r}, {ev!r}, {data!r})", lambda s: s.modify(obj, ev, data))
            elif op == 5:
                w.both(f"unregister({obj!r})", lambda s: s.unregister(obj))
            elif op == 6:
                w.both(f"get_key({obj!r})", lambda s: s.get_key(obj))
            elif op == 7:
                map_ops(w, obj)
            elif op == 8:
                do_select(w, rng.choice([0, 0, 0, 0.001, None] + TIMEOUTS))
            elif op == 9:  # traffic: make a socket readable, drain it, or fill it
                i = rng.randrange(len(w.pairs))
                a, b = w.pairs[i]
                kind = rng.randrange(3)
                try:
                    if kind == 0:
                        b.send(b"r")
                    elif kind == 1:
                        a.recv(65536)
                    else:
                        while True:
                            a.send(b"f" * 65536)
                except OSError:
                    pass
            elif op == 10:  # a peer hangs up, or a socket closes while maybe registered
                i = rng.randrange(len(w.pairs))
                a, b = w.pairs[i]
                (b if rng.randrange(2) else a).close()
            elif op == 11 and rng.randrange(4) == 0:  # replace a pair (its fd numbers may be reused)
                i = rng.randrange(len(w.pairs))
                new = socket.socketpair()
                for s in new:
                    s.setblocking(False)
                w.pairs[i] = new
        if rng.randrange(3) == 0:
            w.both("close", lambda s: s.close())
            w.both("select after close", lambda s: s.select(0))
            w.both("get_map after close", lambda s: s.get_map())
    finally:
        w.close()
