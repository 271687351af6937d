"""Connection setup and teardown: connect with one overall timeout, listen,
accept with the peer's address, Unix sockets, options and a graceful close.

Functions that create a connection return a `socket.socket` that owns the fd
(close-on-exec, as the C library creates it)."""
from __future__ import annotations

import ctypes
import errno
import math
import time
import operator
import os
import socket
from typing import Any, Optional, Tuple, Union

from ._native import lib
from ._util import check_int, fd_of, make_error, raise_errno, retrying, timeout_ms

__all__ = ["tcp_connect", "tcp_listen", "local_port", "accept", "unix_listen", "unix_connect",
           "resolve_strerror", "set_nonblocking", "set_nodelay", "set_reuseaddr", "set_keepalive",
           "set_buffer_sizes", "get_buffer_sizes", "close_graceful"]

_ACCEPT_NONBLOCK = 1
_ADDRSTRLEN = 112
_INT_MAX = 2**31 - 1


def _host(host: Union[str, bytes, None]) -> Optional[bytes]:
    if host is None:
        return None
    if isinstance(host, str):
        return host.encode("idna") if host and not host.isascii() else host.encode()
    if isinstance(host, (bytes, bytearray)):
        return bytes(host)
    raise TypeError(f"str, bytes or bytearray expected, not {type(host).__name__}")


def _port(port: Any) -> int:
    port = operator.index(port)
    if not 0 <= port <= 65535:
        raise OverflowError("port must be 0-65535.")
    return port


def _wrap(fd: int) -> socket.socket:
    return socket.socket(fileno=fd)


def resolve_strerror(code: int) -> str:
    """The resolver's own message for ENOENT/EHOSTDOWN/EPROTO from a connect or
    listen by name (strerror for anything else)."""
    return lib.sl_resolve_strerror(check_int(code, "code", -_INT_MAX - 1, _INT_MAX)).decode()


def tcp_connect(host: Union[str, bytes], port: int, timeout: Optional[float] = None) -> socket.socket:
    """Connects to host:port, trying every resolved address within one timeout.
    Raises ConnectionRefusedError, TimeoutError, or FileNotFoundError (ENOENT)
    for an unknown host (see resolve_strerror)."""
    if host is None:
        raise TypeError("str, bytes or bytearray expected, not NoneType")
    name, port = _host(host), _port(port)
    fd = retrying(lambda ms: lib.sl_tcp_connect(name, port, ms), timeout_ms(timeout), _timed_out)
    return _wrap(fd)


def _timed_out() -> int:
    raise make_error(errno.ETIMEDOUT, 0)


def tcp_listen(host: Union[str, bytes, None] = None, port: int = 0, backlog: int = 128) -> socket.socket:
    """A listening socket with SO_REUSEADDR; None or "" = all interfaces
    (dual-stack where possible), port 0 = any free port (see local_port)."""
    fd = lib.sl_tcp_listen(_host(host), _port(port), check_int(backlog, "backlog", 0, _INT_MAX))
    if fd < 0:
        raise_errno()
    return _wrap(fd)


def local_port(sock: Any) -> int:
    """The local port a socket is bound to (after tcp_listen(port=0))."""
    port = lib.sl_local_port(fd_of(sock))
    if port < 0:
        raise_errno()
    return port


def accept(listener: Any, timeout: Optional[float] = None, nonblocking: bool = False) -> Tuple[socket.socket, str]:
    """Accepts one connection: returns (socket, "host:port" text of the peer)."""
    lfd = fd_of(listener)
    ms = timeout_ms(timeout)
    peer = ctypes.create_string_buffer(_ADDRSTRLEN)
    flags = _ACCEPT_NONBLOCK if nonblocking else 0
    fd = retrying(lambda left: lib.sl_accept(lfd, flags, left, peer, _ADDRSTRLEN), ms, _timed_out)
    return _wrap(fd), peer.value.decode()


def unix_listen(path: Union[str, bytes, os.PathLike], backlog: int = 128) -> socket.socket:
    """Listens on a Unix socket path ("@name" = abstract on Linux); a stale file
    is replaced only when nothing listens on it."""
    fd = lib.sl_unix_listen(os.fsencode(path), check_int(backlog, "backlog", 0, _INT_MAX))
    if fd < 0:
        raise_errno()
    return socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, fileno=fd)


def unix_connect(path: Union[str, bytes, os.PathLike], timeout: Optional[float] = None) -> socket.socket:
    """Connects to a Unix socket path ("@name" = abstract) within the timeout."""
    name = os.fsencode(path)
    fd = retrying(lambda ms: lib.sl_unix_connect(name, ms), timeout_ms(timeout), _timed_out)
    return socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, fileno=fd)


def _check(rc: int) -> None:
    if rc < 0:
        raise_errno()


def set_nonblocking(sock: Any, on: bool = True) -> None:
    """Sets or clears O_NONBLOCK."""
    _check(lib.sl_set_nonblocking(fd_of(sock), int(bool(on))))


def set_nodelay(sock: Any, on: bool = True) -> None:
    """Sets or clears TCP_NODELAY (no Nagle delay for small writes)."""
    _check(lib.sl_set_nodelay(fd_of(sock), int(bool(on))))


def set_reuseaddr(sock: Any, on: bool = True) -> None:
    """Sets or clears SO_REUSEADDR."""
    _check(lib.sl_set_reuseaddr(fd_of(sock), int(bool(on))))


def set_keepalive(sock: Any, on: bool = True, idle: int = 0, interval: int = 0, count: int = 0) -> None:
    """Keep-alive with idle/interval seconds and probe count (0 = system default)."""
    fd = fd_of(sock)
    idle, interval, count = (check_int(v, n, 0, _INT_MAX) for v, n in ((idle, "idle"), (interval, "interval"), (count, "count")))
    _check(lib.sl_set_keepalive(fd, int(bool(on)), idle, interval, count))


def set_buffer_sizes(sock: Any, sndbuf: int = 0, rcvbuf: int = 0) -> None:
    """Asks for buffer sizes (0 = leave alone); Linux doubles and caps them."""
    fd = fd_of(sock)
    _check(lib.sl_set_buffer_sizes(fd, check_int(sndbuf, "sndbuf", 0, _INT_MAX), check_int(rcvbuf, "rcvbuf", 0, _INT_MAX)))


def get_buffer_sizes(sock: Any) -> Tuple[int, int]:
    """(SO_SNDBUF, SO_RCVBUF) as the kernel granted them."""
    snd, rcv = ctypes.c_int(0), ctypes.c_int(0)
    _check(lib.sl_get_buffer_sizes(fd_of(sock), ctypes.byref(snd), ctypes.byref(rcv)))
    return snd.value, rcv.value


def _drain(fd: int, ms: int) -> bool:
    """shutdown(SHUT_WR), then read and discard until end of stream (True), or
    a reset, the timeout, a socket that is none (False), with signal-aware
    waits."""
    try:
        s = socket.socket(fileno=fd)
    except OSError:
        return False  # not a socket: sl_close_graceful says what it is
    try:
        if s.type != socket.SOCK_STREAM:
            return False
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            return False
        start = time.monotonic()
        while True:
            left = -1 if ms < 0 else max(0, math.ceil((start + ms / 1000 - time.monotonic()) * 1000))
            if left == 0 or not retrying(lambda t: lib.sl_wait_readable(fd, t), left, lambda: 0):
                return False
            try:
                if not s.recv(65536, socket.MSG_DONTWAIT):
                    return True
            except BlockingIOError:
                continue
            except OSError:
                return False
    finally:
        s.detach()


def close_graceful(sock: Any, timeout: Optional[float] = None) -> bool:
    """shutdown(SHUT_WR), drain until the peer's end of stream, close. Returns
    True when the peer finished cleanly, False on timeout or reset. The fd is
    closed either way (a socket object is detached first)."""
    ms = timeout_ms(timeout)
    fd_of(sock)  # checks it before the socket object gives its fd up
    fd = sock.detach() if isinstance(sock, socket.socket) else fd_of(sock)
    if ms != 0:
        # The drain's waits here, where a signal handler can run and the wait
        # go on (PEP 475); then the C call finds the end of stream (or not)
        # at once and closes.
        try:
            finished = _drain(fd, ms)
        except BaseException:
            lib.sl_close_graceful(fd, 0)
            raise
        if finished:
            os.close(fd)
            return True
    if lib.sl_close_graceful(fd, 0) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ETIMEDOUT, errno.EAGAIN, errno.ECONNRESET, errno.ENOTCONN):
        return False
    raise_errno()
