"""Byte order (C: sl_htons ... sl_ntohll, sl_put_u*/sl_get_u*).

In Python, int.to_bytes and struct do the same work; these make the C
functions reachable, checked as socket.htons checks its argument: a value
that does not fit is OverflowError, a non-integer TypeError.
"""
from __future__ import annotations

import ctypes
import operator
from typing import Any

from ._native import lib
from ._util import writable_buffer

__all__ = ["htons", "ntohs", "htonl", "ntohl", "htonll", "ntohll", "put", "get"]

_WIDTH = {16: 2, 32: 4, 64: 8}
_ORDERS = ("be", "le")


def _unsigned(value: Any, bits: int, name: str) -> int:
    value = operator.index(value)
    if value < 0:
        raise OverflowError(f"{name}: can't convert negative Python int to C {bits}-bit unsigned integer")
    if value >> bits:
        raise OverflowError(f"{name}: Python int too large to convert to C {bits}-bit unsigned integer")
    return value


def htons(x: int) -> int:
    """A 16-bit unsigned integer from host to network (big-endian) order."""
    return lib.sl_htons(_unsigned(x, 16, "htons"))


def ntohs(x: int) -> int:
    """A 16-bit unsigned integer from network (big-endian) to host order."""
    return lib.sl_ntohs(_unsigned(x, 16, "ntohs"))


def htonl(x: int) -> int:
    """A 32-bit unsigned integer from host to network (big-endian) order."""
    return lib.sl_htonl(_unsigned(x, 32, "htonl"))


def ntohl(x: int) -> int:
    """A 32-bit unsigned integer from network (big-endian) to host order."""
    return lib.sl_ntohl(_unsigned(x, 32, "ntohl"))


def htonll(x: int) -> int:
    """A 64-bit unsigned integer from host to network (big-endian) order."""
    return lib.sl_htonll(_unsigned(x, 64, "htonll"))


def ntohll(x: int) -> int:
    """A 64-bit unsigned integer from network (big-endian) to host order."""
    return lib.sl_ntohll(_unsigned(x, 64, "ntohll"))


def _address(buf: Any, offset: Any, bits: Any, order: Any, write: bool) -> "tuple[int, Any]":
    if bits not in _WIDTH or isinstance(bits, bool):
        raise ValueError(f"bits must be 16, 32 or 64, not {bits!r}")
    if order not in _ORDERS:
        raise ValueError(f"order must be 'be' or 'le', not {order!r}")
    offset = operator.index(offset)
    view = memoryview(buf).cast("B")
    holder, length = writable_buffer(view) if write or not view.readonly else (
        (ctypes.c_char * len(view)).from_buffer_copy(view), len(view))
    if offset < 0 or offset + _WIDTH[bits] > length:
        raise IndexError(f"offset {offset} out of range for {_WIDTH[bits]} bytes in a buffer of {length}")
    return ctypes.addressof(holder) + offset, holder


def put(buf: Any, offset: int, value: int, bits: int = 32, order: str = "be") -> None:
    """Writes `value` as an unsigned `bits`-wide integer (16, 32 or 64) in
    byte order `order` ("be" or "le") at buf[offset:], any alignment.
    A value that does not fit is OverflowError; nothing is written then."""
    addr, _keep = _address(buf, offset, bits, order, True)
    value = _unsigned(value, bits, "put")
    getattr(lib, f"sl_put_u{bits}{order}")(addr, value)


def get(buf: Any, offset: int, bits: int = 32, order: str = "be") -> int:
    """Reads an unsigned `bits`-wide integer (16, 32 or 64) in byte order
    `order` ("be" or "le") at buf[offset:] (any bytes-like buffer), any alignment."""
    addr, _keep = _address(buf, offset, bits, order, False)
    return getattr(lib, f"sl_get_u{bits}{order}")(ctypes.c_void_p(addr))
