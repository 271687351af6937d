"""send_all / recv_exact / send_allv: the loops socket.sendall and recv leave to you."""
import ctypes

from ._native import IoVec, lib
from ._util import call_counted, fileno, readable_buffer, timeout_ms, writable_buffer


def send_all(sock, data, timeout=None):
    """Sends every byte of `data` (bytes-like). Returns the length.

    `timeout` is in seconds for the whole call (None forever, 0 one attempt).
    Errors raise the OSError subclass for errno (TimeoutError, BrokenPipeError,
    BlockingIOError, ...) with `.done`, the bytes sent, to resume from."""
    ptr, length = readable_buffer(data)
    call_counted(lib.sl_send_all, fileno(sock), ptr, length, timeout_ms(timeout))
    return length


def recv_exact(sock, size_or_buffer, timeout=None):
    """Receives exactly n bytes and returns them, or fills a writable buffer
    (bytearray, memoryview) completely in place and returns its length.

    End of stream first raises BrokenPipeError; `.done` says how many bytes
    arrived (they are at the start of the buffer you passed)."""
    if isinstance(size_or_buffer, int):
        out = bytearray(size_or_buffer)
        recv_exact(sock, out, timeout)
        return bytes(out)
    ptr, length = writable_buffer(size_or_buffer)
    call_counted(lib.sl_recv_exact, fileno(sock), ptr, length, timeout_ms(timeout))
    return length


def send_allv(sock, buffers, timeout=None):
    """Sends several bytes-like buffers in order with vectored writes; returns the total."""
    parts = [readable_buffer(b) for b in buffers]  # keeps every buffer alive for the call
    iov = (IoVec * len(parts))(*[IoVec(ctypes.cast(p, ctypes.c_void_p), n) for p, n in parts])
    return call_counted(lib.sl_send_allv, fileno(sock), iov, len(parts), timeout_ms(timeout))
