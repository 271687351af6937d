"""sockloop for Python: the C library's socket loops through ctypes.

What `socket` and `selectors` leave to you, done once: sends and receives of
whole buffers with one timeout for the whole call (`send_all`,
`recv_exact`), length-prefixed frames and a buffered connection that keeps
the bytes read past one message (`Conn`, with batches of small frames per C
call), waits and a `select` with no FD_SETSIZE limit, and `Selector`, a
drop-in for `selectors.DefaultSelector`.

Functions take socket objects or int fds, timeouts in seconds (None waits
forever, 0 tries once), and raise the OSError subclass for the errno
(TimeoutError, BrokenPipeError, ...) carrying `.done`, the bytes that moved,
and, where the call returns data, `.partial`, the data itself: nothing is
lost. Signals behave as in Python's own socket calls (PEP 475). The GIL is
released during every C call.
"""
from ._version import __version__
from ._native import lib as _lib  # loads the library, or ImportError naming what it tried
from . import byteorder, net
from .byteorder import htonl, htonll, htons, ntohl, ntohll, ntohs
from .conn import Conn
from .frame import HEADER_LEN, MAX_PAYLOAD, recv_frame, send_frame
from .io import recv_exact, send_all, send_allv
from .ready import select, wait_readable, wait_writable
from .selector import EVENT_READ, EVENT_WRITE, Selector
from .ring import Ring


def library_version() -> str:
    """The version string of the loaded libsockloop (sl_version_string), or
    "unknown" for a library from before the version API."""
    fn = getattr(_lib, "sl_version_string", None)
    return fn().decode() if fn is not None else "unknown"


def library_path() -> str:
    """The path of the loaded libsockloop."""
    return _lib._name


__all__ = [
    "__version__", "library_version", "library_path",
    "send_all", "recv_exact", "send_allv",
    "send_frame", "recv_frame", "HEADER_LEN", "MAX_PAYLOAD", "Conn",
    "wait_readable", "wait_writable", "select", "Selector", "EVENT_READ", "EVENT_WRITE", "Ring",
    "htons", "ntohs", "htonl", "ntohl", "htonll", "ntohll",
    "byteorder", "net",
]
