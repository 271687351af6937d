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


def readable_buffer(data):
    """(pointer, length, keepalive) for bytes-like data, without a copy where
    possible: bytes and writable buffers are passed in place."""
    if isinstance(data, bytes):
        return ctypes.cast(ctypes.c_char_p(data), ctypes.c_void_p), len(data), data
    view = memoryview(data).cast("B")
    if view.readonly:
        copy = view.tobytes()
        return ctypes.cast(ctypes.c_char_p(copy), ctypes.c_void_p), len(copy), copy
    holder = (ctypes.c_char * len(view)).from_buffer(view)
    return ctypes.cast(holder, ctypes.c_void_p), len(view), holder


def writable_buffer(buf):
    """(pointer, length, keepalive) for a writable buffer, filled in place."""
    view = memoryview(buf).cast("B")
    if view.readonly:
        raise TypeError("a writable buffer (bytearray, memoryview of one, array) is needed")
    holder = (ctypes.c_char * len(view)).from_buffer(view)
    return ctypes.cast(holder, ctypes.c_void_p), len(view), holder
