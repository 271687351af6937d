"""Loading libsockloop and declaring its C signatures, in one place (private).

`SIGNATURES` lists every exported function with its ctypes restype and
argtypes; tests/python/test_bindings.py holds it equal to include/sockloop.h.
ctypes.CDLL releases the GIL for the duration of every call.

Where the library comes from, first match wins:
1. `$SOCKLOOP_LIB`, when set (an explicit override: a developer testing a fresh
   build gets that build, or an ImportError, never a silent fallback);
2. the copy built into the installed package (`_libsockloop*.so`, or
   `libsockloop.so` placed by `make python-package`);
3. the system library path (`libsockloop.so.0`).
A library whose version differs from this package's is refused.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import pathlib
from typing import Iterator

from ._version import __version__

c_int, c_uint, c_size, c_ssize = ctypes.c_int, ctypes.c_uint, ctypes.c_size_t, ctypes.c_ssize_t
c_void_p, c_char_p = ctypes.c_void_p, ctypes.c_char_p
c_u16, c_u32, c_u64 = ctypes.c_uint16, ctypes.c_uint32, ctypes.c_uint64
size_p = ctypes.POINTER(c_size)
int_p = ctypes.POINTER(c_int)


class IoVec(ctypes.Structure):
    _fields_ = [("iov_base", c_void_p), ("iov_len", c_size)]


class Frame(ctypes.Structure):
    _fields_ = [("payload", c_void_p), ("len", c_size)]


class FrameProgress(ctypes.Structure):
    """sl_frame_progress: how far a resumable frame receive got."""
    _fields_ = [("received", c_size), ("declared", c_u64), ("prefix", ctypes.c_uint8 * 8)]


class Event(ctypes.Structure):
    _fields_ = [("fd", c_int), ("events", c_int), ("data", c_void_p)]


class RingEvent(ctypes.Structure):
    """sl_ring_event: one connection's news from sl_ring_wait."""
    _fields_ = [("conn", c_void_p), ("data", c_void_p), ("events", c_int), ("error", c_int)]


INTERRUPT_CHECK = ctypes.CFUNCTYPE(c_int, c_void_p)

SIGNATURES = {
    # transfer loops
    "sl_send_all": (c_ssize, [c_int, c_void_p, c_size, c_int, size_p]),
    "sl_recv_exact": (c_ssize, [c_int, c_void_p, c_size, c_int, size_p]),
    "sl_send_allv": (c_ssize, [c_int, ctypes.POINTER(IoVec), c_int, c_int, size_p]),
    # byte order
    "sl_htons": (c_u16, [c_u16]),
    "sl_ntohs": (c_u16, [c_u16]),
    "sl_htonl": (c_u32, [c_u32]),
    "sl_ntohl": (c_u32, [c_u32]),
    "sl_htonll": (c_u64, [c_u64]),
    "sl_ntohll": (c_u64, [c_u64]),
    # readiness
    "sl_wait_readable": (c_int, [c_int, c_int]),
    "sl_wait_writable": (c_int, [c_int, c_int]),
    "sl_select": (c_int, [int_p, c_size, int_p, c_size, int_p, c_size, c_int,
                          int_p, size_p, int_p, size_p, int_p, size_p]),
    "sl_selector_new": (c_void_p, []),
    "sl_selector_free": (None, [c_void_p]),
    "sl_selector_register": (c_int, [c_void_p, c_int, c_int, c_void_p]),
    "sl_selector_modify": (c_int, [c_void_p, c_int, c_int, c_void_p]),
    "sl_selector_unregister": (c_int, [c_void_p, c_int]),
    "sl_selector_get": (c_int, [c_void_p, c_int, int_p, ctypes.POINTER(c_void_p)]),
    "sl_selector_select": (c_int, [c_void_p, ctypes.POINTER(Event), c_size, c_int]),
    # frames and the buffered connection (sl_conn is opaque: a c_void_p)
    "sl_send_frame": (c_ssize, [c_int, c_void_p, c_size, c_int, size_p]),
    "sl_recv_frame": (c_ssize, [c_int, c_void_p, c_size, c_int, size_p]),
    "sl_recv_frame_resume": (c_ssize, [c_int, c_void_p, c_size, c_int, ctypes.POINTER(FrameProgress)]),
    "sl_send_frame_prefix": (c_ssize, [c_int, c_size, c_int, c_void_p, c_size, c_int, size_p]),
    "sl_recv_frame_prefix": (c_ssize, [c_int, c_size, c_int, c_void_p, c_size, c_int, ctypes.POINTER(FrameProgress)]),
    "sl_conn_set_prefix": (c_int, [c_void_p, c_size, c_int]),
    "sl_conn_set_high_water": (c_int, [c_void_p, c_size]),
    "sl_conn_new": (c_void_p, [c_int, c_size, c_int]),
    "sl_conn_free": (None, [c_void_p]),
    "sl_conn_fd": (c_int, [c_void_p]),
    "sl_conn_buffered": (c_size, [c_void_p]),
    "sl_conn_pending": (c_size, [c_void_p]),
    "sl_conn_read_exact": (c_ssize, [c_void_p, c_void_p, c_size, c_int]),
    "sl_conn_read_frame": (c_ssize, [c_void_p, c_void_p, c_size, c_int]),
    "sl_conn_read_until": (c_ssize, [c_void_p, c_void_p, c_size, c_void_p, c_size, c_int]),
    "sl_conn_write_frame": (c_ssize, [c_void_p, c_void_p, c_size, c_int]),
    "sl_conn_fill": (c_ssize, [c_void_p]),
    "sl_conn_next_frame": (c_int, [c_void_p, ctypes.POINTER(c_void_p), size_p]),
    "sl_conn_next_frames": (c_ssize, [c_void_p, ctypes.POINTER(Frame), c_size]),
    "sl_conn_next_record": (c_int, [c_void_p, c_void_p, c_size, ctypes.POINTER(c_void_p), size_p]),
    "sl_conn_queue_frame": (c_ssize, [c_void_p, c_void_p, c_size]),
    "sl_conn_queue_frames": (c_ssize, [c_void_p, c_void_p, size_p, c_size]),
    "sl_conn_reserve_frames": (c_ssize, [c_void_p, size_p, c_size, ctypes.POINTER(c_void_p)]),
    "sl_conn_queue": (c_ssize, [c_void_p, c_void_p, c_size]),
    "sl_conn_flush": (c_ssize, [c_void_p]),
    # connections
    "sl_tcp_connect": (c_int, [c_char_p, c_int, c_int]),
    "sl_tcp_connect_start": (c_int, [c_char_p, c_int]),
    "sl_connect_finish": (c_int, [c_int, c_int]),
    "sl_unix_connect_start": (c_int, [c_char_p]),
    "sl_tcp_listen": (c_int, [c_char_p, c_int, c_int]),
    "sl_local_port": (c_int, [c_int]),
    "sl_accept": (c_int, [c_int, c_int, c_int, c_char_p, c_size]),
    "sl_resolve_strerror": (c_char_p, [c_int]),
    "sl_unix_listen": (c_int, [c_char_p, c_int]),
    "sl_unix_connect": (c_int, [c_char_p, c_int]),
    "sl_set_nonblocking": (c_int, [c_int, c_int]),
    "sl_set_nodelay": (c_int, [c_int, c_int]),
    "sl_set_reuseaddr": (c_int, [c_int, c_int]),
    "sl_set_keepalive": (c_int, [c_int, c_int, c_int, c_int, c_int]),
    "sl_set_buffer_sizes": (c_int, [c_int, c_int, c_int]),
    "sl_get_buffer_sizes": (c_int, [c_int, ctypes.POINTER(c_int), ctypes.POINTER(c_int)]),
    "sl_close_graceful": (c_int, [c_int, c_int]),
    # versions and signals (optional: an older library lacks them, and the
    # binding then skips the version check / the signal behaviour)
    "sl_version": (c_uint, []),
    "sl_version_string": (c_char_p, []),
    "sl_set_interrupt_check": (c_int, [INTERRUPT_CHECK, c_void_p]),
    "sl_selector_wakeup": (c_int, [c_void_p]),
    # the completion ring
    "sl_ring_new": (c_void_p, [c_int]),
    "sl_ring_free": (None, [c_void_p]),
    "sl_ring_backend": (c_char_p, [c_void_p]),
    "sl_ring_add": (c_int, [c_void_p, c_void_p, c_void_p]),
    "sl_ring_remove": (c_int, [c_void_p, c_void_p]),
    "sl_ring_wait": (c_int, [c_void_p, ctypes.POINTER(RingEvent), c_size, c_int]),
}
for _bits, _ctype in ((16, c_u16), (32, c_u32), (64, c_u64)):
    for _order in ("be", "le"):
        SIGNATURES[f"sl_put_u{_bits}{_order}"] = (c_void_p, [c_void_p, _ctype])
        SIGNATURES[f"sl_get_u{_bits}{_order}"] = (_ctype, [c_void_p])

# Functions a library may lack: the binding then skips what needs them.
OPTIONAL = frozenset({"sl_version", "sl_version_string", "sl_set_interrupt_check", "sl_selector_wakeup"})


def version_number(text: str) -> int:
    """'MAJOR.MINOR.PATCH' as sl_version() reports it: 0xMMmmpp."""
    major, minor, patch = (int(part) for part in text.split(".")[:3])
    return major << 16 | minor << 8 | patch


def _candidates() -> Iterator[str]:
    override = os.environ.get("SOCKLOOP_LIB")
    if override:
        yield override
        return
    here = pathlib.Path(__file__).resolve().parent
    for path in sorted(here.glob("_libsockloop*.so")) + [here / "libsockloop.so"]:
        yield str(path)
    yield "libsockloop.so.0"
    found = ctypes.util.find_library("sockloop")
    if found:
        yield found


def _declare(lib: ctypes.CDLL) -> None:
    for name, (restype, argtypes) in SIGNATURES.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            if name in OPTIONAL:
                continue
            raise ImportError(f"{lib._name} lacks {name}: it is not a libsockloop {__version__}") from None
        fn.restype, fn.argtypes = restype, argtypes


def _check_version(lib: ctypes.CDLL, path: str) -> None:
    if not hasattr(lib, "sl_version"):
        return  # a library from before the version API: nothing to compare
    have, want = lib.sl_version(), version_number(__version__)
    if have != want:
        text = lib.sl_version_string().decode() if hasattr(lib, "sl_version_string") else hex(have)
        raise ImportError(
            f"libsockloop at {path} is version {text}, but this sockloop package is {__version__}: "
            "install the matching package, rebuild the library (make), or point SOCKLOOP_LIB at a matching build")


def load() -> ctypes.CDLL:
    """Loads the library ($SOCKLOOP_LIB, else the package's own copy, else the
    system's); raises ImportError naming every place tried."""
    tried = []
    for path in _candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append(f"{path} (no such file)")
            continue
        try:
            lib = ctypes.CDLL(path, use_errno=True)
        except OSError as err:
            tried.append(f"{path} ({err})")
            continue
        _declare(lib)
        _check_version(lib, path)
        return lib
    hint = ("unset SOCKLOOP_LIB or point it at build/lib/libsockloop.so" if os.environ.get("SOCKLOOP_LIB")
            else "reinstall the package (pip install ./bindings/python builds the library), "
                 "or set SOCKLOOP_LIB to a built libsockloop.so")
    raise ImportError("libsockloop not found; tried: " + "; ".join(tried) + ". " + hint)


lib = load()
