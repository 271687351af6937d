"""Readiness: waits with one timeout, and select() with no FD_SETSIZE limit
(C: src/ready.rs). For many fds use Selector (sockloop.selector)."""
from __future__ import annotations

import ctypes
from typing import Any, Iterable, List, Optional, Tuple

from ._native import lib
from ._util import fd_of, retrying, timeout_ms

__all__ = ["wait_readable", "wait_writable", "select"]


def wait_readable(sock: Any, timeout: Optional[float] = None) -> bool:
    """Waits until `sock` (a socket, object with fileno(), or int fd) is
    readable: data, end of stream, a connection to accept, or an error (the
    next recv reports it). True when ready, False when `timeout` seconds
    (None: forever, 0: just check) ran out."""
    fd = fd_of(sock)
    return retrying(lambda ms: lib.sl_wait_readable(fd, ms), timeout_ms(timeout), lambda: 0) == 1


def wait_writable(sock: Any, timeout: Optional[float] = None) -> bool:
    """Waits until `sock` is writable (a send would not block; an error or
    hang-up counts, for the next send to report). True when ready, False when
    `timeout` seconds ran out."""
    fd = fd_of(sock)
    return retrying(lambda ms: lib.sl_wait_writable(fd, ms), timeout_ms(timeout), lambda: 0) == 1


def select(rlist: Iterable[Any], wlist: Iterable[Any], xlist: Iterable[Any],
           timeout: Optional[float] = None) -> Tuple[List[Any], List[Any], List[Any]]:
    """select.select's interface over poll(2): any fd number works (no
    FD_SETSIZE limit). Returns the ready subsets of the three lists, as the
    objects given; ([], [], []) when `timeout` seconds ran out."""
    groups = [list(rlist), list(wlist), list(xlist)]
    fds = [[fd_of(o) for o in g] for g in groups]
    ms = timeout_ms(timeout)
    arrays = [(ctypes.c_int * max(len(f), 1))(*f) for f in fds]
    outs = [(ctypes.c_int * max(len(f), 1))() for f in fds]
    counts = [ctypes.c_size_t(0) for _ in groups]
    head: List[Any] = []
    for arr, f in zip(arrays, fds):
        head += [arr, len(f)]
    tail: List[Any] = []
    for out, count in zip(outs, counts):
        tail += [out, ctypes.byref(count)]
    if retrying(lambda left: lib.sl_select(*head, left, *tail), ms, lambda: 0) == 0:
        return [], [], []
    result = []
    for g, f, out, count in zip(groups, fds, outs, counts):
        ready = set(out[:count.value])
        result.append([o for o, fd in zip(g, f) if fd in ready])
    return result[0], result[1], result[2]
