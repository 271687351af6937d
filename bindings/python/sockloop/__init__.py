"""sockloop for Python: the C library's socket loops through ctypes.

Functions take socket objects or raw fds, timeouts in seconds (None waits
forever, 0 tries once), and raise OSError subclasses built from errno
(TimeoutError, BrokenPipeError, ...) carrying `.done`, the bytes that moved.
The GIL is released during every C call.
"""
from ._native import lib  # noqa: F401  (loads the library, or ImportError naming what it tried)
from .byteorder import htonl, htonll, htons, ntohl, ntohll, ntohs  # noqa: F401
from .transfer import recv_exact, send_all, send_allv  # noqa: F401
from . import net  # noqa: F401
from .readiness import EVENT_READ, EVENT_WRITE, Selector, select, wait_readable, wait_writable  # noqa: F401
from .framing import Conn, recv_frame, send_frame  # noqa: F401

__version__ = "0.1.0"
