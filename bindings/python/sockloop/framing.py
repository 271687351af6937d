"""Length-prefixed frames (4-byte big-endian length, then the payload) and Conn,
the buffered connection: bytes read past one message stay for the next."""
import array
import ctypes
import os

from ._native import Frame, lib
from ._util import call_counted, fileno, raise_errno, readable_buffer, timeout_ms

HEADER_LEN = 4
CONN_OWN_FD = 1
# Frames taken per sl_conn_next_frames call: one ctypes call (about a
# microsecond) then serves this many frames.
FRAME_BATCH = 256
# An array typecode the size of size_t, for the lengths of a queued batch.
_SIZE_T = next(code for code in "LQI" if array.array(code).itemsize == ctypes.sizeof(ctypes.c_size_t))


def send_frame(sock, payload, timeout=None):
    """Sends one frame in one system call. `.done` on errors counts header bytes too."""
    ptr, length = readable_buffer(payload)
    call_counted(lib.sl_send_frame, fileno(sock), ptr, length, timeout_ms(timeout))
    return length


def recv_frame(sock, max_size, timeout=None):
    """Receives one frame of at most max_size bytes (unbuffered). A larger
    declared length raises OSError(EMSGSIZE): the connection is then out of step."""
    out = ctypes.create_string_buffer(max(max_size, HEADER_LEN))
    n = call_counted(lib.sl_recv_frame, fileno(sock), out, max_size, timeout_ms(timeout))
    return out.raw[:n]


class Conn:
    """A buffered reader/writer over one socket (C: sl_conn).

    Blocking reads take a timeout in seconds and are all-or-nothing: after an
    error the partial message stays buffered and the next call resumes it.
    For event loops: fill(), then frames()/records(), queue_frame()/
    queue_frames()/queue(), flush() (which returns the bytes still pending:
    ask for EVENT_WRITE only then). frames() and queue_frames() take and
    queue many small frames per C call, so a frame costs less than a call.
    """

    def __init__(self, sock, max_message=1 << 20, own_fd=False):
        self._sock = sock  # keeps a socket object (and so its fd) alive
        self.max_message = max_message
        self._c = lib.sl_conn_new(fileno(sock), max_message, CONN_OWN_FD if own_fd else 0)
        if not self._c:
            raise_errno()
        # sl_frame[FRAME_BATCH] as flat (payload, len) words, read back in one
        # tolist() instead of two attribute lookups per frame.
        self._words = (ctypes.c_size_t * (2 * FRAME_BATCH))()
        self._frames_out = ctypes.cast(self._words, ctypes.POINTER(Frame))
        self._words_view = memoryview(self._words).cast("B").cast(_SIZE_T)
        self._deferred_errno = 0

    def close(self):
        if self._c:
            lib.sl_conn_free(self._c)
            self._c = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()

    def fileno(self):
        return lib.sl_conn_fd(self._c)

    @property
    def buffered(self):
        return lib.sl_conn_buffered(self._c)

    @property
    def pending(self):
        return lib.sl_conn_pending(self._c)

    def _read(self, fn, capacity, *args):
        out = ctypes.create_string_buffer(max(capacity, 1))
        n = fn(self._c, *args[:-1], out, capacity, args[-1])
        if n < 0:
            raise_errno()
        return out.raw[:n]

    def read_exact(self, n, timeout=None):
        return self._read(lib.sl_conn_read_exact, n, timeout_ms(timeout))

    def read_frame(self, timeout=None, max_size=None):
        return self._read(lib.sl_conn_read_frame, max_size or self.max_message, timeout_ms(timeout))

    def read_until(self, delim, timeout=None, max_size=None):
        """The next record, without its delimiter (any byte string)."""
        return self._read(lib.sl_conn_read_until, max_size or self.max_message, delim, len(delim), timeout_ms(timeout))

    def write_frame(self, payload, timeout=None):
        ptr, length = readable_buffer(payload)
        if lib.sl_conn_write_frame(self._c, ptr, length, timeout_ms(timeout)) < 0:
            raise_errno()

    def fill(self):
        """Reads what the socket has without blocking: bytes read, 0 at end of
        stream; raises BlockingIOError when there was nothing."""
        n = lib.sl_conn_fill(self._c)
        if n < 0:
            raise_errno()
        return n

    def _fail_after(self, taken):
        """An error after `taken` messages: they are returned, not lost, and
        the error (EMSGSIZE: an oversized message, skipped) is raised by the
        next frames()/records() call."""
        if not taken:
            raise_errno()
        self._deferred_errno = ctypes.get_errno()
        return taken

    def _raise_deferred(self):
        code, self._deferred_errno = self._deferred_errno, 0
        if code:
            raise OSError(code, os.strerror(code))

    def frames(self):
        """Every complete frame already buffered, as a list of bytes: up to
        FRAME_BATCH frames per C call, their region copied once and sliced."""
        self._raise_deferred()
        out = []
        while True:
            n = lib.sl_conn_next_frames(self._c, self._frames_out, FRAME_BATCH)
            if n < 0:
                return self._fail_after(out)
            if n == 0:
                return out
            words = self._words_view[:2 * n].tolist()
            base = words[0]
            # The payloads lie in stream order in one buffer, each after its header.
            region = ctypes.string_at(base, words[-2] + words[-1] - base)
            out += [region[at - base:at - base + size] for at, size in zip(words[::2], words[1::2])]

    def records(self, delim):
        """Every complete record already buffered, without its delimiter, as a list."""
        self._raise_deferred()
        ptr, size = ctypes.c_void_p(), ctypes.c_size_t()
        out = []
        while True:
            r = lib.sl_conn_next_record(self._c, delim, len(delim), ctypes.byref(ptr), ctypes.byref(size))
            if r < 0:
                return self._fail_after(out)
            if r == 0:
                return out
            out.append(ctypes.string_at(ptr, size.value) if size.value else b"")

    def queue_frame(self, payload):
        ptr, length = readable_buffer(payload)
        pending = lib.sl_conn_queue_frame(self._c, ptr, length)
        if pending < 0:
            raise_errno()
        return pending

    def queue_frames(self, payloads):
        """Queues one frame per bytes-like payload, in one C call; all or none
        (OSError EMSGSIZE for a payload over 4 GiB - 1). Returns the bytes pending."""
        payloads = list(payloads)
        data = b"".join(payloads)
        lens = array.array(_SIZE_T, map(len, payloads))
        if sum(lens) != len(data):  # len() of a memoryview counts items, not bytes
            lens = array.array(_SIZE_T, (memoryview(p).nbytes for p in payloads))
        lens_arg = (ctypes.c_size_t * len(lens)).from_buffer(lens) if lens else None
        pending = lib.sl_conn_queue_frames(self._c, data, lens_arg, len(lens))
        if pending < 0:
            raise_errno()
        return pending

    def queue(self, data):
        ptr, length = readable_buffer(data)
        pending = lib.sl_conn_queue(self._c, ptr, length)
        if pending < 0:
            raise_errno()
        return pending

    def flush(self):
        """Writes what the socket takes; returns the bytes still pending."""
        pending = lib.sl_conn_flush(self._c)
        if pending < 0:
            raise_errno()
        return pending
