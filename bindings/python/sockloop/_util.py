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


def make_error(code: int, done: Optional[int] = None, partial: Optional[bytes] = None) -> BaseException:
    """The OSError subclass for errno `code` (TimeoutError, BrokenPipeError, ...),
    with `.done` and, for calls that return data, `.partial`. For EINTR the
    exception a signal handler raised (KeyboardInterrupt, ...) instead."""
    err: BaseException
    pending = _signals.take_pending() if code == errno.EINTR else None
    if pending is not None:
        err = pending
    else:
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
