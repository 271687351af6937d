"""Length-prefixed frames on a socket, unbuffered (C: src/frame.rs): a 4-byte
unsigned big-endian length, then the payload. For many frames, or frames
mixed with other reads, use the buffered Conn (sockloop.conn)."""
from __future__ import annotations

import ctypes
import errno
import math
import struct
import time
from typing import Any, Optional

from .io import _recv_into, send_vectors
from ._util import address, check_int, fd_of, make_error, readable_buffer, timeout_ms

__all__ = ["send_frame", "recv_frame", "HEADER_LEN", "MAX_PAYLOAD"]

HEADER_LEN: int = 4
"""Bytes in a frame header."""
MAX_PAYLOAD: int = 2**32 - 1
"""The largest payload a 4-byte header can declare."""


def send_frame(sock: Any, payload: Any, timeout: Optional[float] = None) -> int:
    """Sends one frame (header and payload in one vectored write, one system
    call when the socket takes it all); returns the payload length. Errors carry `.done`, the
    bytes sent, header included. A payload over MAX_PAYLOAD is
    OSError(EMSGSIZE), nothing sent."""
    fd = fd_of(sock)
    ptr, length = readable_buffer(payload)
    if length > MAX_PAYLOAD:
        raise make_error(errno.EMSGSIZE, 0)
    header = ctypes.create_string_buffer(struct.pack(">I", length), HEADER_LEN)
    # One vectored write, header and payload together, resumed after signals.
    send_vectors(fd, [(address(header), HEADER_LEN), (address(ptr), length)], timeout_ms(timeout))
    return length


def recv_frame(sock: Any, max_size: int, timeout: Optional[float] = None) -> bytes:
    """Receives one frame of at most `max_size` payload bytes and returns the
    payload. Unbuffered: it reads exactly the frame. A larger declared length
    is OSError(EMSGSIZE) with the header consumed and the payload left unread
    (the stream is then out of step: close it). Errors carry `.done` (bytes
    received, header included) and `.partial` (the payload bytes received).
    Reads the header, then the payload (for many frames use Conn)."""
    fd = fd_of(sock)
    max_size = check_int(max_size, "max_size", 0, MAX_PAYLOAD)
    ms = timeout_ms(timeout)
    deadline = time.monotonic() + ms / 1000 if ms > 0 else None
    header = ctypes.create_string_buffer(HEADER_LEN)
    try:
        _recv_into(fd, header, HEADER_LEN, ms)
    except BaseException as exc:
        exc.partial = b""  # type: ignore[attr-defined]
        raise
    (length,) = struct.unpack(">I", header.raw)
    if length > max_size:
        raise make_error(errno.EMSGSIZE, HEADER_LEN, b"")  # header taken, payload left unread
    out = ctypes.create_string_buffer(length)
    if deadline is not None:
        ms = max(0, math.ceil((deadline - time.monotonic()) * 1000))
        if ms == 0 and length:
            raise make_error(errno.ETIMEDOUT, HEADER_LEN, b"")
    try:
        _recv_into(fd, out, length, ms)
    except BaseException as exc:
        exc.done += HEADER_LEN  # type: ignore[attr-defined]
        raise
    return out.raw
