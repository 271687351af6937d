"""Byte-order helpers of the C API. In Python, int.to_bytes/struct do the same
work; these exist so that the C functions are reachable and tested from Python."""
import ctypes

from ._native import lib
from ._util import writable_buffer

htons, ntohs = lib.sl_htons, lib.sl_ntohs
htonl, ntohl = lib.sl_htonl, lib.sl_ntohl
htonll, ntohll = lib.sl_htonll, lib.sl_ntohll

_WIDTH = {16: 2, 32: 4, 64: 8}


def _check(buf, offset, bits):
    holder, length = writable_buffer(buf)
    if offset < 0 or offset + _WIDTH[bits] > length:
        raise IndexError("offset out of range")
    return ctypes.addressof(holder) + offset, holder


def put(buf, offset, value, bits=32, order="be"):
    """Writes `value` as an unsigned bits-wide integer at buf[offset:] (any alignment)."""
    addr, _keep = _check(buf, offset, bits)
    getattr(lib, f"sl_put_u{bits}{order}")(addr, value)


def get(buf, offset, bits=32, order="be"):
    """Reads an unsigned bits-wide integer at buf[offset:] (any alignment)."""
    addr, _keep = _check(buf, offset, bits)
    return getattr(lib, f"sl_get_u{bits}{order}")(ctypes.c_void_p(addr))
