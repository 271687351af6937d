"""Length-prefixed frames on a socket, unbuffered (C: src/frame.rs): a 4-byte
unsigned big-endian length, then the payload. For many frames, or frames
mixed with other reads, use the buffered Conn (sockloop.conn)."""
from __future__ import annotations

import ctypes
from typing import Any, Optional

from ._native import lib
from ._util import call_counted, check_int, fd_of, raise_errno, readable_buffer, timeout_ms

__all__ = ["send_frame", "recv_frame", "HEADER_LEN", "MAX_PAYLOAD"]

HEADER_LEN: int = 4
"""Bytes in a frame header."""
MAX_PAYLOAD: int = 2**32 - 1
"""The largest payload a 4-byte header can declare."""


def send_frame(sock: Any, payload: Any, timeout: Optional[float] = None) -> int:
    """Sends one frame (header and payload in one system call when the socket
    takes it all); returns the payload length. Errors carry `.done`, the
    bytes sent, header included. A payload over MAX_PAYLOAD is
    OSError(EMSGSIZE), nothing sent."""
    fd = fd_of(sock)
    ptr, length = readable_buffer(payload)
    rc, done = call_counted(lib.sl_send_frame, fd, ptr, length, timeout_ms(timeout))
    if rc < 0:
        raise_errno(done)
    return length


def recv_frame(sock: Any, max_size: int, timeout: Optional[float] = None) -> bytes:
    """Receives one frame of at most `max_size` payload bytes and returns the
    payload. Unbuffered: it reads exactly the frame. A larger declared length
    is OSError(EMSGSIZE) with the header consumed and the payload left unread
    (the stream is then out of step: close it). Errors carry `.done` (bytes
    received, header included) and `.partial` (the payload bytes received)."""
    fd = fd_of(sock)
    max_size = check_int(max_size, "max_size", 0, MAX_PAYLOAD)
    ms = timeout_ms(timeout)
    out = ctypes.create_string_buffer(max(max_size, HEADER_LEN))
    n, done = call_counted(lib.sl_recv_frame, fd, out, max_size, ms)
    if n < 0:
        raise_errno(done, out.raw[:max(done - HEADER_LEN, 0)])
    return out.raw[:n]
