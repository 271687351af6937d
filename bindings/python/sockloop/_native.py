"""Loading libsockloop and declaring the C signatures, in one place.

`SIGNATURES` lists every exported function with its ctypes restype and
argtypes; tests/python/test_bindings.py holds it equal to include/sockloop.h.
ctypes.CDLL releases the GIL for the duration of every call.
"""
import ctypes
import ctypes.util
import os
import pathlib

c_int, c_size, c_ssize = ctypes.c_int, ctypes.c_size_t, ctypes.c_ssize_t
c_void_p, c_char_p = ctypes.c_void_p, ctypes.c_char_p
c_u16, c_u32, c_u64 = ctypes.c_uint16, ctypes.c_uint32, ctypes.c_uint64
size_p = ctypes.POINTER(c_size)


class IoVec(ctypes.Structure):
    _fields_ = [("iov_base", c_void_p), ("iov_len", c_size)]


class Frame(ctypes.Structure):
    _fields_ = [("payload", c_void_p), ("len", c_size)]


class FrameProgress(ctypes.Structure):
    """sl_frame_progress: how far a resumable frame receive got."""
    _fields_ = [("received", c_size), ("declared", c_u64), ("prefix", ctypes.c_uint8 * 8)]


class Event(ctypes.Structure):
    _fields_ = [("fd", c_int), ("events", c_int), ("data", c_void_p)]


int_p = ctypes.POINTER(c_int)

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
    "sl_selector_wakeup": (c_int, [c_void_p]),
    # signals: the per-thread interrupt check
    "sl_set_interrupt_check": (c_int, [ctypes.CFUNCTYPE(c_int, c_void_p), c_void_p]),
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
    # version of the loaded library
    "sl_version": (ctypes.c_uint, []),
    "sl_version_string": (c_char_p, []),
}
for _bits, _ctype in ((16, c_u16), (32, c_u32), (64, c_u64)):
    for _order in ("be", "le"):
        SIGNATURES[f"sl_put_u{_bits}{_order}"] = (c_void_p, [c_void_p, _ctype])
        SIGNATURES[f"sl_get_u{_bits}{_order}"] = (_ctype, [c_void_p])


def _candidates():
    here = pathlib.Path(__file__).resolve().parent
    yield str(here / "libsockloop.so")
    if os.environ.get("SOCKLOOP_LIB"):
        yield os.environ["SOCKLOOP_LIB"]
    yield "libsockloop.so.0"
    found = ctypes.util.find_library("sockloop")
    if found:
        yield found


def load():
    """Loads the library: next to this package, then $SOCKLOOP_LIB, then the
    system library path. Raises ImportError naming every place it tried."""
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
        for name, (restype, argtypes) in SIGNATURES.items():
            fn = getattr(lib, name)
            fn.restype, fn.argtypes = restype, argtypes
        return lib
    raise ImportError("libsockloop not found; tried: " + "; ".join(tried) +
                      ". Build it with `make` and set SOCKLOOP_LIB to build/lib/libsockloop.so.")


lib = load()
