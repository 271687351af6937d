"""The transfer loops: send_all, recv_exact, send_allv (C: src/io.rs).

What socket.sendall and a recv loop leave to you: one timeout for the whole
call, EINTR handled as PEP 475 says, no SIGPIPE, and on failure the count of
bytes that moved (`.done`) and, for receives, the bytes themselves
(`.partial`, as asyncio's IncompleteReadError), so nothing is lost.
"""
from __future__ import annotations

import ctypes
from typing import Any, Iterable, Optional, Union, overload

from ._native import IoVec, lib
from ._util import (SSIZE_MAX, Progress, address, fd_of, readable_buffer, resumable, timeout_ms, transfer,
                    writable_buffer)

__all__ = ["send_all", "recv_exact", "send_allv"]

FileLike = Any  # a socket, any object with fileno(), or an int fd


def send_all(sock: FileLike, data: Any, timeout: Optional[float] = None) -> int:
    """Sends every byte of `data` (any bytes-like object); returns its length.

    `timeout` is in seconds for the whole call (None: forever, 0: one attempt).
    Errors raise the OSError subclass for the errno (TimeoutError,
    BrokenPipeError, BlockingIOError, ...) with `.done`, the bytes sent:
    resume with ``send_all(sock, data[err.done:])``."""
    fd = fd_of(sock)
    ptr, length = readable_buffer(data)
    transfer(lib.sl_send_all, fd, ptr, length, timeout_ms(timeout))
    return length


def _recv_into(fd: int, ptr: Any, length: int, ms: int) -> None:
    try:
        transfer(lib.sl_recv_exact, fd, ptr, length, ms)
    except BaseException as exc:
        exc.partial = ptr[:exc.done]  # type: ignore[attr-defined]
        raise


@overload
def recv_exact(sock: FileLike, size_or_buffer: int, timeout: Optional[float] = None) -> bytes: ...
@overload  # noqa: E302
def recv_exact(sock: FileLike, size_or_buffer: Any, timeout: Optional[float] = None) -> int: ...


def recv_exact(sock: FileLike, size_or_buffer: Union[int, Any], timeout: Optional[float] = None) -> Union[bytes, int]:
    """Receives exactly n bytes and returns them; or, given a writable buffer
    (bytearray, memoryview, array), fills all of it in place and returns its
    length.

    End of stream first raises BrokenPipeError, the timeout TimeoutError (0:
    BlockingIOError). Every error carries `.done`, the bytes that arrived, and
    `.partial`, those bytes (with a buffer they are also at its start), so a
    timed-out receive resumes with nothing lost."""
    fd = fd_of(sock)
    ms = timeout_ms(timeout)
    if isinstance(size_or_buffer, int):
        if size_or_buffer < 0:
            raise ValueError("negative size in recv_exact")
        if size_or_buffer > SSIZE_MAX:
            raise OverflowError("size too large")
        out = ctypes.create_string_buffer(size_or_buffer)
        _recv_into(fd, out, size_or_buffer, ms)
        return out.raw
    ptr, length = writable_buffer(size_or_buffer)
    _recv_into(fd, ptr, length, ms)
    return length


def send_allv(sock: FileLike, buffers: Iterable[Any], timeout: Optional[float] = None) -> int:
    """Sends several bytes-like buffers in order with vectored writes (one
    system call when the socket takes it all); returns the total length.
    Errors carry `.done`, the bytes sent across all buffers."""
    fd = fd_of(sock)
    parts = [readable_buffer(b) for b in buffers]  # keeps every buffer alive for the call
    if len(parts) > 1024:
        raise ValueError("at most 1024 buffers (IOV_MAX)")
    send_vectors(fd, [(address(p), n) for p, n in parts], timeout_ms(timeout))
    return sum(n for _, n in parts)


def send_vectors(fd: int, spans: "list[tuple[int, int]]", ms: int) -> None:
    """sl_send_allv over (address, length) spans, resumed after signals."""
    def call(at: int, left: int, done: Any) -> int:
        rest = []
        for base, n in spans:
            if at >= n:
                at -= n
                continue
            rest.append(IoVec(base + at, n - at))
            at = 0
        iov = (IoVec * len(rest))(*rest)
        return lib.sl_send_allv(fd, iov, len(rest), left, done)
    resumable(call, ms, Progress())
