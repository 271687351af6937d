"""Argument conversion and errors shared by the wrappers (private).

Arguments are checked as the standard library checks them: a wrong type is
TypeError, a negative size or fd ValueError, a number too large for its C type
OverflowError; never a silent truncation by ctypes.
"""
from __future__ import annotations

import ctypes
import errno
import math
import operator
import os
import time
from typing import Any, NoReturn, Optional, Tuple

from . import _signals

INT_MAX = 2**31 - 1
SIZE_MAX = 2 ** (8 * ctypes.sizeof(ctypes.c_size_t)) - 1
SSIZE_MAX = SIZE_MAX >> 1


def fd_of(obj: Any) -> int:
    """An int fd, or fileobj.fileno(), checked as select.select checks it."""
    if isinstance(obj, int):
        fd = obj
    else:
        try:
            method = obj.fileno
        except AttributeError:
            raise TypeError("argument must be an int, or have a fileno() method.") from None
        fd = method()
        if not isinstance(fd, int):
            raise TypeError("fileno() returned a non-integer")
    if fd < 0:
        raise ValueError(f"file descriptor cannot be a negative integer ({fd})")
    if fd > INT_MAX:
        raise OverflowError("Python int too large to convert to C int")
    return fd


def timeout_ms(timeout: Optional[float]) -> int:
    """Seconds as in socket timeouts (None forever, 0 one attempt), as the C
    library's milliseconds, rounded up. Negative or NaN: ValueError; more than
    the C int of milliseconds holds (about 24.8 days): OverflowError."""
    if timeout is None:
        return -1
    if isinstance(timeout, float):
        if timeout != timeout:
            raise ValueError("Invalid value NaN (not a number)")
        if timeout < 0:
            raise ValueError("Timeout value out of range")
        if timeout > INT_MAX / 1000:
            raise OverflowError("timeout is too large")
        return math.ceil(timeout * 1000)
    seconds = operator.index(timeout)  # TypeError for str, Decimal, ...
    if seconds < 0:
        raise ValueError("Timeout value out of range")
    if seconds * 1000 > INT_MAX:
        raise OverflowError("timeout is too large")
    return seconds * 1000


def check_int(value: Any, name: str, low: int, high: int) -> int:
    """An integer argument (anything with __index__) within [low, high]."""
    value = operator.index(value)
    if value < low:
        if low == 0:
            raise ValueError(f"{name} must be non-negative")
        raise OverflowError(f"{name} must be >= {low}")
    if value > high:
        raise OverflowError(f"{name} must be <= {high}")
    return value


def make_error(code: int, done: Optional[int] = None, partial: Optional[bytes] = None) -> OSError:
    """The OSError subclass for errno `code` (TimeoutError, BrokenPipeError, ...),
    with `.done` and, for calls that return data, `.partial`."""
    err = OSError(code, os.strerror(code))  # OSError picks the subclass
    err.done = done  # type: ignore[attr-defined]
    if partial is not None:
        err.partial = partial  # type: ignore[attr-defined]
    return err


def raise_errno(done: Optional[int] = None, partial: Optional[bytes] = None) -> NoReturn:
    """Raises make_error() for the current ctypes errno."""
    raise make_error(ctypes.get_errno(), done, partial)


def call_counted(fn: Any, *args: Any) -> Tuple[int, int]:
    """Calls a C transfer function whose last argument is `size_t *done`:
    (result, done); result < 0 means failure, errno in ctypes.get_errno()."""
    done = ctypes.c_size_t(0)
    rc = fn(*args, ctypes.byref(done))
    return rc, done.value


def readable_buffer(data: Any) -> Tuple[Any, int]:
    """(argument, byte length) for bytes-like data, for a c_void_p parameter,
    without a copy where possible. TypeError for str and other non-buffers."""
    if isinstance(data, bytes):
        return data, len(data)
    if isinstance(data, str):
        raise TypeError(f"a bytes-like object is required, not 'str'")
    if not isinstance(data, bytearray):
        view = memoryview(data).cast("B")  # TypeError for non-buffers
        if view.readonly:
            copy = view.tobytes()
            return copy, len(copy)
        data = view
    return (ctypes.c_char * len(data)).from_buffer(data), len(data)


def writable_buffer(buf: Any) -> Tuple[Any, int]:
    """(argument, byte length) for a writable buffer, filled in place."""
    if not isinstance(buf, bytearray):
        view = memoryview(buf).cast("B")
        if view.readonly:
            raise TypeError("a writable bytes-like object is required (bytearray, memoryview of one, array)")
        buf = view
    return (ctypes.c_char * len(buf)).from_buffer(buf), len(buf)


def bytes_arg(data: Any, name: str) -> bytes:
    """A bytes-like argument as bytes (delimiters and the like)."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        raise TypeError(f"{name} must be a bytes-like object, not 'str'")
    return memoryview(data).tobytes()


EINTR = errno.EINTR


class Deadline:
    """The time left of a call's timeout, in the C library's milliseconds."""

    __slots__ = ("ms", "end")

    def __init__(self, ms: int, started: Optional[float] = None) -> None:
        self.ms = ms
        self.end = (started or time.monotonic()) + ms / 1000 if ms > 0 else None

    def left(self) -> int:
        """Milliseconds left (-1 forever, 0 none or a one-attempt call)."""
        if self.end is None:
            return self.ms
        return max(0, math.ceil((self.end - time.monotonic()) * 1000))

    def expired(self, left: int) -> bool:
        return self.ms > 0 and left == 0


def handle_eintr() -> None:
    """After a C call ended with EINTR: runs Python's signal handlers now
    (if the interpreter has not already); a handler's exception propagates."""
    _signals.check_signals()


class Progress:
    """Bytes moved by a resumable transfer: `total` committed, `cur` the C
    call's `*done`. Consistent whenever a signal handler may run (the
    interpreter runs them only at calls and loop edges, never inside commit)."""

    __slots__ = ("total", "cur", "ref")

    def __init__(self) -> None:
        self.total = 0
        self.cur = ctypes.c_size_t(0)
        self.ref = ctypes.byref(self.cur)

    @property
    def done(self) -> int:
        return self.total + self.cur.value

    def commit(self) -> None:
        self.total += self.cur.value
        self.cur.value = 0


def resumable(call: Any, ms: int, progress: Progress) -> None:
    """Runs call(offset, timeout_ms, done_ref) -> rc, a C transfer that can
    resume at `offset`, until it finishes: after EINTR the signal handlers
    run and the call resumes with the time left (PEP 475). Raises the errno's
    OSError, or a handler's exception, with `.done` (callers add `.partial`)."""
    deadline = Deadline(ms)
    left = ms
    try:
        while True:
            rc = call(progress.total, left, progress.ref)
            progress.commit()
            if rc >= 0:
                return
            code = ctypes.get_errno()
            if code != EINTR:
                raise make_error(code, progress.total)
            handle_eintr()
            left = deadline.left()
            if deadline.expired(left):
                raise make_error(errno.ETIMEDOUT, progress.total)
    except BaseException as exc:
        if getattr(exc, "done", None) is None:
            exc.done = progress.done  # type: ignore[attr-defined]
        raise


def retrying(call: Any, ms: int, expired: Any, started: Optional[float] = None) -> Any:
    """Runs call(timeout_ms) -> rc, a C call with nothing to resume (a wait,
    an accept, a connect), retrying EINTR after the handlers ran, with the
    time left; `expired()` gives the result (or raises) when none is left.
    Returns rc (>= 0), or raises the errno's OSError. `started`: when the
    timeout began, for a call already made once."""
    deadline = Deadline(ms, started)
    left = ms if started is None else deadline.left()
    try:
        while True:
            rc = call(left)
            if rc >= 0:
                return rc
            code = ctypes.get_errno()
            if code != EINTR:
                raise make_error(code, 0)
            handle_eintr()
            left = deadline.left()
            if deadline.expired(left):
                return expired()
    except BaseException as exc:
        if getattr(exc, "done", None) is None:
            exc.done = 0  # type: ignore[attr-defined]
        raise


def address(holder: Any) -> int:
    """The address of a buffer argument from readable_buffer/writable_buffer."""
    return ctypes.cast(holder, ctypes.c_void_p).value or 0


def transfer(fn: Any, fd: int, ptr: Any, length: int, ms: int) -> None:
    """One C transfer call (sl_send_all, sl_recv_exact: `fn(fd, buf, len,
    timeout_ms, &done)`), the fast path; after a signal (EINTR) the handlers
    run and the rest resumes with the time left (see resumable). Raises with
    `.done` (callers add `.partial`)."""
    done = ctypes.c_size_t(0)
    started = time.monotonic() if ms > 0 else 0.0
    try:
        if fn(fd, ptr, length, ms, ctypes.byref(done)) >= 0:
            return
        code = ctypes.get_errno()
        if code != EINTR:
            raise make_error(code, done.value)
        handle_eintr()
    except BaseException as exc:
        if getattr(exc, "done", None) is None:
            exc.done = done.value  # type: ignore[attr-defined]
        raise
    progress = Progress()
    progress.total = done.value
    left = ms if ms <= 0 else max(0, math.ceil((started + ms / 1000 - time.monotonic()) * 1000))
    if ms > 0 and left == 0:
        raise make_error(errno.ETIMEDOUT, progress.total)
    base = address(ptr)
    resumable(lambda at, t, d: fn(fd, base + at, length - at, t, d), left, progress)
