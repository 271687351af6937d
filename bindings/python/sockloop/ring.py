"""`Ring`: many `Conn`s driven by one call per loop turn (sl_ring), on
io_uring where the kernel allows it, else on epoll with the same behaviour.

    ring = Ring()
    ring.add(conn, data)
    for conn, data, events, error in ring.wait(timeout=1.0):
        for frame in conn.frames():
            conn.queue_frame(frame)       # written by the next wait

`wait` writes every added connection's queued output, receives into their
buffers and returns one `(conn, data, events, error)` per connection with
news: `events` has `DATA`, `CLOSED` (end of stream) and/or `ERROR` (`error`
is the errno). While a `Conn` is in a ring, take messages and queue output
only (no `fill`, `flush` or blocking reads); `remove` it before closing it.
"""
from __future__ import annotations

import ctypes
from typing import Any, Dict, List, Optional, Tuple

from ._native import RingEvent, lib
from ._util import Deadline, handle_eintr, raise_errno, timeout_ms
from .conn import Conn

DATA, CLOSED, ERROR = 1, 2, 4
_FORCE_EPOLL = 1
_BATCH = 256


def _conn_arg(conn: Any) -> int:
    if not isinstance(conn, Conn):
        raise TypeError(f"a sockloop.Conn is required, not {type(conn).__name__}")
    return conn._live()


class Ring:
    """See the module docs. `force_epoll=True` runs the epoll fallback."""

    def __init__(self, force_epoll: bool = False) -> None:
        self._r: Optional[int] = None
        r = lib.sl_ring_new(_FORCE_EPOLL if force_epoll else 0)
        if not r:
            raise_errno()
        self._r = r
        self._conns: Dict[int, Tuple[Conn, Any]] = {}
        self._out = (RingEvent * _BATCH)()

    def _live(self) -> int:
        if not self._r:
            raise ValueError("I/O operation on closed Ring")
        return self._r

    @property
    def backend(self) -> str:
        """"io_uring" or "epoll"."""
        return lib.sl_ring_backend(self._live()).decode()

    def add(self, conn: Conn, data: Any = None) -> None:
        """Adds `conn` with `data`; FileExistsError when it is in already.
        Until it is removed the ring reads and writes for it: take messages
        with frames()/records() and queue output, but do not fill(), flush()
        or read_*() it (on io_uring those raise OSError(EBUSY) while the ring
        receives into its buffer)."""
        c = _conn_arg(conn)
        if lib.sl_ring_add(self._live(), c, None) < 0:
            raise_errno()
        self._conns[c] = (conn, data)

    def remove(self, conn: Conn) -> None:
        """Removes `conn`; bytes received for it are in its buffer.
        FileNotFoundError when it is not in the ring."""
        c = _conn_arg(conn)
        if lib.sl_ring_remove(self._live(), c) < 0:
            raise_errno()
        del self._conns[c]

    def wait(self, timeout: Optional[float] = None) -> List[Tuple[Conn, Any, int, int]]:
        """One loop turn; waits up to `timeout` seconds (None: forever, 0: no
        wait) for news; [] when the time ran out. Signals run their handlers
        (PEP 475) and the wait goes on, unless a handler raises."""
        deadline = Deadline(timeout_ms(timeout))
        while True:
            n = lib.sl_ring_wait(self._live(), self._out, _BATCH, deadline.left())
            if n >= 0:
                break
            if ctypes.get_errno() != 4:  # EINTR
                raise_errno()
            handle_eintr()
            if deadline.expired(deadline.left()):
                return []
        got = []
        for ev in self._out[:n]:
            conn, data = self._conns[ev.conn]
            got.append((conn, data, ev.events, ev.error))
        return got

    def close(self) -> None:
        """Frees the ring (the connections stay open, their buffers whole)."""
        if self._r:
            lib.sl_ring_free(self._r)
            self._r = None
            self._conns.clear()

    def __enter__(self) -> "Ring":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown
            pass

    def __len__(self) -> int:
        return len(self._conns)
