"""Connection setup and teardown: connect with one overall timeout, listen,
accept with the peer's address, Unix sockets, options and a graceful close.

Functions that create a connection return a `socket.socket` that owns the fd
(close-on-exec, as the C library creates it)."""
import ctypes
import errno
import os
import socket

from ._native import lib
from ._util import fileno, raise_errno, timeout_ms

ACCEPT_NONBLOCK = 1
ADDRSTRLEN = 112


def _host(host):
    return None if host is None else host.encode()


def _wrap(fd):
    return socket.socket(fileno=fd)


def resolve_strerror(code):
    """The resolver's own message for ENOENT/EHOSTDOWN/EPROTO from a connect or
    listen by name (strerror for anything else)."""
    return lib.sl_resolve_strerror(code).decode()


def tcp_connect(host, port, timeout=None):
    """Connects to host:port, trying every resolved address within one timeout.
    Raises ConnectionRefusedError, TimeoutError, or FileNotFoundError (ENOENT)
    for an unknown host (see resolve_strerror)."""
    fd = lib.sl_tcp_connect(_host(host), port, timeout_ms(timeout))
    if fd < 0:
        raise_errno()
    return _wrap(fd)


def tcp_listen(host=None, port=0, backlog=128):
    """A listening socket with SO_REUSEADDR; None or "" = all interfaces
    (dual-stack where possible), port 0 = any free port (see local_port)."""
    fd = lib.sl_tcp_listen(_host(host), port, backlog)
    if fd < 0:
        raise_errno()
    return _wrap(fd)


def local_port(sock):
    port = lib.sl_local_port(fileno(sock))
    if port < 0:
        raise_errno()
    return port


def accept(listener, timeout=None, nonblocking=False):
    """Accepts one connection: returns (socket, "host:port" text of the peer)."""
    peer = ctypes.create_string_buffer(ADDRSTRLEN)
    fd = lib.sl_accept(fileno(listener), ACCEPT_NONBLOCK if nonblocking else 0, timeout_ms(timeout), peer, ADDRSTRLEN)
    if fd < 0:
        raise_errno()
    return _wrap(fd), peer.value.decode()


def unix_listen(path, backlog=128):
    """Listens on a Unix socket path ("@name" = abstract on Linux); a stale file
    is replaced only when nothing listens on it."""
    fd = lib.sl_unix_listen(os.fsencode(path), backlog)
    if fd < 0:
        raise_errno()
    return socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, fileno=fd)


def unix_connect(path, timeout=None):
    fd = lib.sl_unix_connect(os.fsencode(path), timeout_ms(timeout))
    if fd < 0:
        raise_errno()
    return socket.socket(socket.AF_UNIX, socket.SOCK_STREAM, fileno=fd)


def _check(rc):
    if rc < 0:
        raise_errno()


def set_nonblocking(sock, on=True):
    _check(lib.sl_set_nonblocking(fileno(sock), int(on)))


def set_nodelay(sock, on=True):
    _check(lib.sl_set_nodelay(fileno(sock), int(on)))


def set_reuseaddr(sock, on=True):
    _check(lib.sl_set_reuseaddr(fileno(sock), int(on)))


def set_keepalive(sock, on=True, idle=0, interval=0, count=0):
    """Keep-alive with idle/interval seconds and probe count (0 = system default)."""
    _check(lib.sl_set_keepalive(fileno(sock), int(on), idle, interval, count))


def set_buffer_sizes(sock, sndbuf=0, rcvbuf=0):
    """Asks for buffer sizes (0 = leave alone); Linux doubles and caps them."""
    _check(lib.sl_set_buffer_sizes(fileno(sock), sndbuf, rcvbuf))


def get_buffer_sizes(sock):
    """(SO_SNDBUF, SO_RCVBUF) as the kernel granted them."""
    snd, rcv = ctypes.c_int(0), ctypes.c_int(0)
    _check(lib.sl_get_buffer_sizes(fileno(sock), ctypes.byref(snd), ctypes.byref(rcv)))
    return snd.value, rcv.value


def close_graceful(sock, timeout=None):
    """shutdown(SHUT_WR), drain until the peer's end of stream, close. Returns
    True when the peer finished cleanly, False on timeout or reset. The fd is
    closed either way (a socket object is detached first)."""
    fd = sock.detach() if isinstance(sock, socket.socket) else sock
    if lib.sl_close_graceful(fd, timeout_ms(timeout)) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ETIMEDOUT, errno.EAGAIN, errno.ECONNRESET, errno.ENOTCONN):
        return False
    raise_errno()
