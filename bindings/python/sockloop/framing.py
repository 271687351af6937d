"""Length-prefixed frames (4-byte big-endian length, then the payload) and Conn,
the buffered connection: bytes read past one message stay for the next."""
import ctypes

from ._native import lib
from ._util import call_counted, fileno, raise_errno, readable_buffer, timeout_ms

HEADER_LEN = 4
CONN_OWN_FD = 1


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
    For event loops: fill(), then frames()/records(), queue_frame()/queue(),
    flush() (which returns the bytes still pending: ask for EVENT_WRITE only then).
    """

    def __init__(self, sock, max_message=1 << 20, own_fd=False):
        self._sock = sock  # keeps a socket object (and so its fd) alive
        self.max_message = max_message
        self._c = lib.sl_conn_new(fileno(sock), max_message, CONN_OWN_FD if own_fd else 0)
        if not self._c:
            raise_errno()

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

    def _take_all(self, next_fn, *args):
        """Yields every message `next_fn` (sl_conn_next_frame/_record) hands out, copied."""
        ptr, size = ctypes.c_void_p(), ctypes.c_size_t()
        while True:
            r = next_fn(self._c, *args, ctypes.byref(ptr), ctypes.byref(size))
            if r < 0:
                raise_errno()
            if r == 0:
                return
            yield ctypes.string_at(ptr, size.value) if size.value else b""

    def frames(self):
        """Every complete frame already buffered, as bytes."""
        return self._take_all(lib.sl_conn_next_frame)

    def records(self, delim):
        """Every complete record already buffered, without its delimiter."""
        return self._take_all(lib.sl_conn_next_record, delim, len(delim))

    def queue_frame(self, payload):
        ptr, length = readable_buffer(payload)
        pending = lib.sl_conn_queue_frame(self._c, ptr, length)
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
