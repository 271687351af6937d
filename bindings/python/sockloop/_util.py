"""Argument conversion shared by the Pythonic wrappers."""
import ctypes
import math
import os


class TransferError(OSError):
    """Not raised directly: errors are the OSError subclass for their errno
    (TimeoutError, BrokenPipeError, ...), with `.done`, the bytes that moved."""


def fileno(sock):
    """A socket object, any object with fileno(), or a raw int fd."""
    return sock if isinstance(sock, int) else sock.fileno()


def timeout_ms(timeout):
    """Seconds as in Python's socket timeouts: None waits forever, 0 tries once."""
    if timeout is None:
        return -1
    if timeout < 0:
        raise ValueError("timeout must be None or >= 0 seconds")
    return min(math.ceil(timeout * 1000), 2**31 - 1)


def raise_errno(done=None):
    """Raises the OSError subclass for the current ctypes errno."""
    code = ctypes.get_errno()
    err = OSError(code, os.strerror(code))  # OSError picks TimeoutError, BrokenPipeError, ...
    err.done = done
    raise err


def call_counted(fn, *args):
    """Calls a C transfer function whose last argument is `size_t *done`;
    returns its result, or raises the errno's OSError carrying `.done`."""
    done = ctypes.c_size_t(0)
    rc = fn(*args, ctypes.byref(done))
    if rc < 0:
        raise_errno(done.value)
    return rc


def readable_buffer(data):
    """(argument, length) for bytes-like data, for a c_void_p parameter, without
    a copy where possible: bytes and writable buffers are passed in place. The
    argument keeps the memory alive for the call."""
    if isinstance(data, bytes):
        return data, len(data)
    if not isinstance(data, bytearray):
        view = memoryview(data).cast("B")
        if view.readonly:
            copy = view.tobytes()
            return copy, len(copy)
        data = view
    return (ctypes.c_char * len(data)).from_buffer(data), len(data)


def writable_buffer(buf):
    """(argument, length) for a writable buffer, filled in place."""
    if not isinstance(buf, bytearray):
        buf = memoryview(buf).cast("B")
        if buf.readonly:
            raise TypeError("a writable buffer (bytearray, memoryview of one, array) is needed")
    return (ctypes.c_char * len(buf)).from_buffer(buf), len(buf)
