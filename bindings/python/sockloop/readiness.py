"""Readiness: waits with one timeout, a select() with no FD_SETSIZE limit, and
Selector, a drop-in for `selectors.DefaultSelector` built on sl_selector."""
import ctypes
import selectors

from ._native import Event, lib
from ._util import fileno, raise_errno, timeout_ms

EVENT_READ, EVENT_WRITE = selectors.EVENT_READ, selectors.EVENT_WRITE  # 1 and 2, as SL_READ/SL_WRITE


def _wait(fn, sock, timeout):
    r = fn(fileno(sock), timeout_ms(timeout))
    if r < 0:
        raise_errno()
    return r == 1


def wait_readable(sock, timeout=None):
    """True once readable (or at end of stream / error), False on timeout."""
    return _wait(lib.sl_wait_readable, sock, timeout)


def wait_writable(sock, timeout=None):
    return _wait(lib.sl_wait_writable, sock, timeout)


def select(rlist, wlist, xlist, timeout=None):
    """select.select's interface over poll(2): any fd number works."""
    groups = [list(rlist), list(wlist), list(xlist)]
    arrays = [(ctypes.c_int * max(len(g), 1))(*[fileno(o) for o in g]) for g in groups]
    outs = [(ctypes.c_int * max(len(g), 1))() for g in groups]
    counts = [ctypes.c_size_t(0) for _ in groups]
    args = []
    for arr, g in zip(arrays, groups):
        args += [arr, len(g)]
    args.append(timeout_ms(timeout))
    for out, count in zip(outs, counts):
        args += [out, ctypes.byref(count)]
    if lib.sl_select(*args) < 0:
        raise_errno()
    result = []
    for g, out, count in zip(groups, outs, counts):
        ready = set(out[:count.value])
        result.append([o for o in g if fileno(o) in ready])
    return tuple(result)


class Selector(selectors.BaseSelector):
    """selectors.BaseSelector on sl_selector (epoll): register/modify/unregister,
    select(timeout) -> [(SelectorKey, events)], get_key, get_map, close."""

    def __init__(self):
        self._sel = lib.sl_selector_new()
        if not self._sel:
            raise_errno()
        self._keys = {}
        self._out = (Event * 1024)()

    def register(self, fileobj, events, data=None):
        if not events or events & ~(EVENT_READ | EVENT_WRITE):
            raise ValueError(f"Invalid events: {events!r}")
        fd = fileno(fileobj)
        if fd in self._keys:
            raise KeyError(f"{fileobj!r} (FD {fd}) is already registered")
        if lib.sl_selector_register(self._sel, fd, events, None) < 0:
            raise_errno()
        key = selectors.SelectorKey(fileobj, fd, events, data)
        self._keys[fd] = key
        return key

    def unregister(self, fileobj):
        fd = fileno(fileobj)
        key = self._keys.pop(fd, None)
        if key is None:
            raise KeyError(f"{fileobj!r} is not registered")
        lib.sl_selector_unregister(self._sel, fd)  # an fd closed meanwhile is fine
        return key

    def modify(self, fileobj, events, data=None):
        fd = fileno(fileobj)
        key = self._keys.get(fd)
        if key is None:
            raise KeyError(f"{fileobj!r} is not registered")
        if events != key.events:
            if not events or events & ~(EVENT_READ | EVENT_WRITE):
                raise ValueError(f"Invalid events: {events!r}")
            if lib.sl_selector_modify(self._sel, fd, events, None) < 0:
                raise_errno()
        key = key._replace(events=events, data=data)
        self._keys[fd] = key
        return key

    def select(self, timeout=None):
        if timeout is not None and timeout < 0:
            timeout = 0
        n = lib.sl_selector_select(self._sel, self._out, len(self._out), timeout_ms(timeout))
        if n < 0:
            raise_errno()
        ready = []
        for ev in self._out[:n]:
            key = self._keys.get(ev.fd)
            if key:
                ready.append((key, ev.events & key.events))
        return ready

    def get_key(self, fileobj):
        try:
            return self._keys[fileno(fileobj)]
        except KeyError:
            raise KeyError(f"{fileobj!r} is not registered") from None

    def get_map(self):
        return dict(self._keys)

    def close(self):
        if self._sel:
            lib.sl_selector_free(self._sel)
            self._sel = None
            self._keys.clear()
