"""Conn, the buffered connection (C: sl_conn, src/conn.rs): frames,
delimited records and exact reads over one socket; bytes read past one
message stay buffered for the next.

Blocking reads cost what the message costs, not what `max_message` allows:
a buffered message is taken in place and copied once.
"""
from __future__ import annotations

import array
import ctypes
import errno
import time
from typing import Any, Iterable, List, NoReturn, Optional

from ._native import Frame, lib
from ._util import (SSIZE_MAX, Deadline, bytes_arg, check_int, fd_of, handle_eintr, make_error,
                    readable_buffer, timeout_ms)

__all__ = ["Conn"]

_OWN_FD = 1
# Frames taken per sl_conn_next_frames call: one ctypes call (about a
# microsecond) then serves this many frames.
_FRAME_BATCH = 256
_INT_S = (2**31 - 1) // 1000  # whole seconds whose milliseconds fit a C int
# An array typecode the size of size_t, for the lengths of a queued batch.
_SIZE_T = next(code for code in "LQI" if array.array(code).itemsize == ctypes.sizeof(ctypes.c_size_t))

# The per-message steps without argtypes: arguments are passed as ready-made
# ctypes objects, the cheapest call ctypes has.
# The steps that make no system call (next_frame, next_record) keep the GIL
# and skip the errno copy: their only failure with valid arguments is
# EMSGSIZE (an oversized message, skipped).
_raw = ctypes.CDLL(lib._name, use_errno=True)
_now = ctypes.PyDLL(lib._name)
_next_frame, _next_record = _now.sl_conn_next_frame, _now.sl_conn_next_record
_next_frame.restype = _next_record.restype = ctypes.c_int
_fill = _raw.sl_conn_fill
_fill.restype = ctypes.c_ssize_t
_wait_readable = _raw.sl_wait_readable
_wait_readable.restype = ctypes.c_int
# bytes from (address, size) in one C call (what ctypes.string_at wraps).
_string_at = ctypes.PyDLL(None).PyBytes_FromStringAndSize  # a fresh function object: own argtypes
_string_at.restype, _string_at.argtypes = ctypes.py_object, [ctypes.c_void_p, ctypes.c_ssize_t]


class Conn:
    """A buffered reader/writer over one socket (or any stream fd).

    Blocking reads (read_frame, read_until, read_exact) take a timeout in
    seconds for the whole call and are all or nothing: after a timeout the
    partial message stays buffered and the next call resumes it. Their
    errors carry `.done`, the bytes of the unfinished message buffered so
    far, and `.partial`: b"" while those bytes stay buffered, or the bytes
    themselves at end of stream (BrokenPipeError), when they are taken out
    (as asyncio's IncompleteReadError.partial).

    Event-loop steps: fill(), then frames()/records(); queue_frame()/
    queue_frames()/queue(), then flush(), which returns the bytes still
    pending (ask for EVENT_WRITE only then). frames() and queue_frames()
    take and queue many small frames per C call.

    `max_message` bounds every message (frames over it are skipped, with
    OSError EMSGSIZE); `own_fd=True` closes the fd with the Conn.
    """

    def __init__(self, sock: Any, max_message: int = 1 << 20, own_fd: bool = False) -> None:
        fd = fd_of(sock)
        self.max_message: int = check_int(max_message, "max_message", 0, 2**32 - 1)
        self._c: Optional[int] = None
        self._sock = sock  # keeps a socket object (and so its fd) alive
        c = lib.sl_conn_new(fd, self.max_message, _OWN_FD if own_fd else 0)
        if not c:
            raise make_error(ctypes.get_errno(), 0)
        self._c = c
        self._c_arg = ctypes.c_void_p(c)
        self._fd = fd
        self._ptr, self._len = ctypes.c_void_p(), ctypes.c_size_t()
        self._ptr_ref, self._len_ref = ctypes.byref(self._ptr), ctypes.byref(self._len)
        # sl_frame[_FRAME_BATCH] as flat (payload, len) words, read back in one
        # tolist() instead of two attribute lookups per frame.
        self._words = (ctypes.c_size_t * (2 * _FRAME_BATCH))()
        self._frames_out = ctypes.cast(self._words, ctypes.POINTER(Frame))
        self._words_view = memoryview(self._words).cast("B").cast(_SIZE_T)  # type: ignore[call-overload]
        self._deferred_errno = 0

    # -- lifetime
    def close(self) -> None:
        """Frees the buffers (and closes the fd if own_fd). Idempotent."""
        if self._c:
            lib.sl_conn_free(self._c)
            self._c = None

    def __enter__(self) -> "Conn":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __del__(self) -> None:
        if getattr(self, "_c", None):
            self.close()

    def _live(self) -> int:
        if not self._c:
            raise ValueError("I/O operation on closed Conn")
        return self._c

    def fileno(self) -> int:
        """The fd (for a selector). ValueError once closed."""
        return lib.sl_conn_fd(self._live())

    @property
    def buffered(self) -> int:
        """Received bytes buffered and not yet taken."""
        return lib.sl_conn_buffered(self._live())

    @property
    def pending(self) -> int:
        """Queued output bytes not yet written."""
        return lib.sl_conn_pending(self._live())

    # -- errors
    def _read_error(self, code: int) -> NoReturn:
        """A blocking read failed: `.done` = bytes of the unfinished message
        buffered; at end of stream they are taken out as `.partial`."""
        buffered = lib.sl_conn_buffered(self._c)
        partial = b""
        if code == errno.EPIPE and buffered:
            out = ctypes.create_string_buffer(buffered)
            if lib.sl_conn_read_exact(self._c, out, buffered, 0) == buffered:
                partial = out.raw
        raise make_error(code, buffered, partial)

    # -- blocking reads
    def _take(self, step: Any, args: tuple, timeout: Optional[float]) -> bytes:
        try:
            return self._take_loop(step, args, timeout)
        except BaseException as exc:
            self._annotate(exc)
            raise

    def _annotate(self, exc: BaseException) -> None:
        """`.done`/`.partial` on an exception that ended a blocking read
        without them (a signal handler's, raised wherever it ran)."""
        if getattr(exc, "done", None) is None and self._c:
            exc.done = lib.sl_conn_buffered(self._c)  # type: ignore[attr-defined]
            exc.partial = b""  # type: ignore[attr-defined]

    def _take_loop(self, step: Any, args: tuple, timeout: Optional[float]) -> bytes:
        """The next message `step` (sl_conn_next_frame/_record) finds, filling
        from the socket and waiting for it within the timeout as needed."""
        c = self._c_arg
        if not self._c:
            self._live()
        ms = timeout * 1000 if timeout.__class__ is int and 0 <= timeout <= _INT_S else timeout_ms(timeout)
        deadline = None
        while True:
            r = step(c, *args, self._ptr_ref, self._len_ref)
            if r == 1:
                return _string_at(self._ptr, self._len.value)
            if r < 0:
                raise make_error(errno.EMSGSIZE, 0, b"")  # skipped; the next message follows
            n = _fill(c)
            if n > 0:
                continue
            if n == 0:
                self._read_error(errno.EPIPE)
            code = ctypes.get_errno()
            if code != errno.EAGAIN:
                self._read_error(code)
            if ms == 0:
                self._read_error(errno.EAGAIN)
            wait = -1
            if ms > 0:
                now = time.monotonic()
                if deadline is None:
                    deadline = now + ms / 1000
                wait = int((deadline - now) * 1000 + 0.999)
                if wait <= 0:
                    self._read_error(errno.ETIMEDOUT)
            r = _wait_readable(self._fd, wait)
            if r == 0:
                self._read_error(errno.ETIMEDOUT)
            if r < 0:
                code = ctypes.get_errno()
                if code != errno.EINTR:
                    self._read_error(code)
                self._handlers()  # a handler's exception ends the read; else it goes on

    def _handlers(self) -> None:
        """After EINTR: Python's signal handlers run; one that raises ends the
        call with its exception (given `.done` and `.partial` by _annotate)."""
        handle_eintr()

    def _read_into(self, fn: Any, capacity: int, args: tuple, timeout: Optional[float]) -> bytes:
        """A blocking C read (all or nothing), retried after signals."""
        ms = timeout_ms(timeout)
        c = self._live()
        out = ctypes.create_string_buffer(max(capacity, 1))
        deadline = Deadline(ms)
        left = ms
        try:
            while True:
                n = fn(c, *args, out, capacity, left)
                if n >= 0:
                    return out.raw[:n]
                code = ctypes.get_errno()
                if code != errno.EINTR:
                    self._read_error(code)
                self._handlers()
                left = deadline.left()
                if deadline.expired(left):
                    self._read_error(errno.ETIMEDOUT)
        except BaseException as exc:
            self._annotate(exc)
            raise

    def read_frame(self, timeout: Optional[float] = None, max_size: Optional[int] = None) -> bytes:
        """The next frame's payload. A frame over max_message is skipped with
        OSError(EMSGSIZE) and the next call returns the frame after it.
        `max_size` (at most max_message) is a smaller limit for this call: a
        frame over it stays buffered, with OSError(EMSGSIZE)."""
        if max_size is None and self._c and (timeout is None or (timeout.__class__ is int or timeout.__class__ is float)
                                              and 0 <= timeout <= _INT_S):
            # A frame already buffered: one call, in place, copied once.
            r = _next_frame(self._c_arg, self._ptr_ref, self._len_ref)
            if r == 1:
                return _string_at(self._ptr, self._len.value)
            if r < 0:
                raise make_error(errno.EMSGSIZE, 0, b"")  # skipped; the next frame follows
        if max_size is not None:
            max_size = check_int(max_size, "max_size", 0, SSIZE_MAX)
            if max_size < self.max_message:
                return self._read_into(lib.sl_conn_read_frame, max_size, (), timeout)
        return self._take(_next_frame, (), timeout)

    def read_until(self, delim: Any, timeout: Optional[float] = None, max_size: Optional[int] = None) -> bytes:
        """The next record ending with `delim` (any non-empty bytes: b"\\n",
        b"\\r\\n", b"END"), without the delimiter. No delimiter within
        max_message bytes: the record is skipped, OSError(EMSGSIZE).
        `max_size` is a smaller limit for this call, as in read_frame."""
        delim = bytes_arg(delim, "delim")
        if not delim:
            raise ValueError("delim must not be empty")
        if max_size is not None:
            max_size = check_int(max_size, "max_size", 0, SSIZE_MAX)
            if max_size < self.max_message:
                return self._read_into(lib.sl_conn_read_until, max_size, (delim, len(delim)), timeout)
        return self._take(_next_record, (delim, ctypes.c_size_t(len(delim))), timeout)

    def read_exact(self, n: int, timeout: Optional[float] = None) -> bytes:
        """Exactly `n` bytes (at most max_message: OSError(EMSGSIZE))."""
        n = check_int(n, "n", 0, SSIZE_MAX)
        return self._read_into(lib.sl_conn_read_exact, n, (), timeout)

    # -- blocking write
    def write_frame(self, payload: Any, timeout: Optional[float] = None) -> int:
        """Writes one frame after any queued output; returns the payload
        length. On an error (TimeoutError, BrokenPipeError, ...) the unsent
        rest stays queued, so the peer never sees half a frame followed by
        something else: finish it with flush(), never write it again.
        `.done` is the bytes of this frame (header included) that went out."""
        c = self._live()
        ptr, length = readable_buffer(payload)
        ms = timeout_ms(timeout)
        deadline = Deadline(ms)
        before = lib.sl_conn_pending(c)
        try:
            if lib.sl_conn_write_frame(c, ptr, length, ms) >= 0:
                return length
            code = ctypes.get_errno()
            if code in (errno.EMSGSIZE, errno.EINVAL) and lib.sl_conn_pending(c) <= before:
                raise make_error(code, 0)
            while code == errno.EINTR:
                # Signal handlers run; if none raised, the rest of the frame
                # (queued by the C call) goes out with the time left.
                handle_eintr()
                pending = lib.sl_conn_flush(c)
                if pending == 0:
                    return length
                if pending < 0:
                    code = ctypes.get_errno()
                    break
                left = deadline.left()
                if deadline.expired(left):
                    code = errno.ETIMEDOUT
                    break
                r = lib.sl_wait_writable(self._fd, left)
                if r == 0:
                    code = errno.ETIMEDOUT if ms else errno.EAGAIN
                elif r < 0:
                    code = ctypes.get_errno()
            raise make_error(code)
        except BaseException as exc:
            if getattr(exc, "done", None) is None:
                exc.done = max(0, 4 + length - lib.sl_conn_pending(c))  # type: ignore[attr-defined]
            raise

    # -- event-loop steps
    def fill(self) -> int:
        """Reads what the socket has, without blocking: the bytes read, 0 at
        end of stream; BlockingIOError when there was nothing yet."""
        n = _fill(self._c_arg) if self._c else self._live()
        if n < 0:
            raise make_error(ctypes.get_errno(), 0)
        return n

    def _fail_after(self, taken: List[bytes]) -> List[bytes]:
        """An error after `taken` messages: they are returned, not lost, and
        the error (EMSGSIZE: an oversized message, skipped) is raised by the
        next frames()/records() call."""
        if not taken:
            raise make_error(ctypes.get_errno(), 0)
        self._deferred_errno = ctypes.get_errno()
        return taken

    def _raise_deferred(self) -> None:
        code, self._deferred_errno = self._deferred_errno, 0
        if code:
            raise make_error(code, 0)

    def frames(self) -> List[bytes]:
        """Every complete frame already buffered, as a list of payloads
        (possibly empty); up to 256 frames per C call, copied once."""
        self._live()
        self._raise_deferred()
        out: List[bytes] = []
        while True:
            n = lib.sl_conn_next_frames(self._c, self._frames_out, _FRAME_BATCH)
            if n < 0:
                return self._fail_after(out)
            if n == 0:
                return out
            words = self._words_view[:2 * n].tolist()
            base = words[0]
            # The payloads lie in stream order in one buffer, each after its header.
            region = ctypes.string_at(base, words[-2] + words[-1] - base)
            out += [region[at - base:at - base + size] for at, size in zip(words[::2], words[1::2])]

    def records(self, delim: Any) -> List[bytes]:
        """Every complete record already buffered, without its delimiter."""
        self._live()
        delim = bytes_arg(delim, "delim")
        if not delim:
            raise ValueError("delim must not be empty")
        self._raise_deferred()
        ptr, size = ctypes.c_void_p(), ctypes.c_size_t()
        out: List[bytes] = []
        while True:
            r = lib.sl_conn_next_record(self._c, delim, len(delim), ctypes.byref(ptr), ctypes.byref(size))
            if r < 0:
                return self._fail_after(out)
            if r == 0:
                return out
            out.append(ctypes.string_at(ptr, size.value) if size.value else b"")

    def queue_frame(self, payload: Any) -> int:
        """Queues one frame (no system call); returns the bytes pending."""
        return self._queue(lib.sl_conn_queue_frame, payload)

    def queue_frames(self, payloads: Iterable[Any]) -> int:
        """Queues one frame per bytes-like payload, in one C call; all or none
        (OSError EMSGSIZE for a payload over 4 GiB - 1). Returns the bytes pending."""
        c = self._live()
        payloads = list(payloads)
        if any(isinstance(p, str) for p in payloads):
            raise TypeError("payloads must be bytes-like objects, not 'str'")
        data = b"".join(payloads)
        lens = array.array(_SIZE_T, map(len, payloads))
        if sum(lens) != len(data):  # len() of a memoryview counts items, not bytes
            lens = array.array(_SIZE_T, (memoryview(p).nbytes for p in payloads))
        lens_arg = (ctypes.c_size_t * len(lens)).from_buffer(lens) if lens else None
        pending = lib.sl_conn_queue_frames(c, data, lens_arg, len(lens))
        if pending < 0:
            raise make_error(ctypes.get_errno(), 0)
        return pending

    def queue(self, data: Any) -> int:
        """Queues raw bytes (a record with its delimiter, say); returns the
        bytes pending."""
        return self._queue(lib.sl_conn_queue, data)

    def _queue(self, queue_fn: Any, data: Any) -> int:
        c = self._live()
        ptr, length = readable_buffer(data)
        pending = queue_fn(c, ptr, length)
        if pending < 0:
            raise make_error(ctypes.get_errno(), 0)
        return pending

    def flush(self) -> int:
        """Writes what the socket takes now, without blocking; returns the
        bytes still pending (0: all out). Errors (BrokenPipeError, ...) keep
        the output queued and carry `.done`, the bytes written first."""
        c = self._live()
        before = lib.sl_conn_pending(c)
        pending = lib.sl_conn_flush(c)
        if pending < 0:
            code = ctypes.get_errno()
            raise make_error(code, before - lib.sl_conn_pending(c))
        return pending
