"""ctypes smoke test: the C ABI works from Python over real sockets."""
import ctypes
import errno
import os
import socket
import threading

from conftest import declare

c_size_p = ctypes.POINTER(ctypes.c_size_t)


def signatures(lib):
    return (
        declare(lib, "sl_send_all", ctypes.c_ssize_t, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, c_size_p),
        declare(lib, "sl_recv_exact", ctypes.c_ssize_t, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, c_size_p),
    )


def test_round_trip_between_python_sockets(lib):
    send_all, recv_exact = signatures(lib)
    a, b = socket.socketpair()
    payload = os.urandom(3 << 20)
    got = ctypes.create_string_buffer(len(payload))
    done = ctypes.c_size_t(0)
    reader = threading.Thread(target=lambda: recv_exact(b.fileno(), got, len(payload), 5000, ctypes.byref(done)))
    reader.start()
    assert send_all(a.fileno(), payload, len(payload), 5000, None) == len(payload)
    reader.join()
    assert done.value == len(payload)
    assert got.raw == payload
    a.close()
    b.close()


def test_errors_come_back_as_errno_with_the_count(lib):
    _, recv_exact = signatures(lib)
    a, b = socket.socketpair()
    b.sendall(b"partial")
    b.close()
    buf = ctypes.create_string_buffer(32)
    done = ctypes.c_size_t(99)
    assert recv_exact(a.fileno(), buf, 32, 1000, ctypes.byref(done)) == -1
    assert ctypes.get_errno() == errno.EPIPE
    assert done.value == 7 and buf.raw[:7] == b"partial"
    assert recv_exact(a.fileno(), buf, 32, 0, None) == -1
    assert ctypes.get_errno() == errno.EPIPE
    a.close()


def test_timeout_zero_is_eagain_and_bad_fd_is_einval(lib):
    send_all, recv_exact = signatures(lib)
    a, b = socket.socketpair()
    buf = ctypes.create_string_buffer(4)
    assert recv_exact(a.fileno(), buf, 4, 0, None) == -1
    assert ctypes.get_errno() == errno.EAGAIN
    assert send_all(-1, b"x", 1, 0, None) == -1
    assert ctypes.get_errno() == errno.EINVAL
    a.close()
    b.close()


def test_byte_order_helpers(lib):
    htonl = declare(lib, "sl_htonl", ctypes.c_uint32, ctypes.c_uint32)
    put = declare(lib, "sl_put_u32be", ctypes.c_void_p, ctypes.c_void_p, ctypes.c_uint32)
    get = declare(lib, "sl_get_u32le", ctypes.c_uint32, ctypes.c_void_p)
    assert htonl(1) == socket.htonl(1)
    buf = (ctypes.c_ubyte * 9)()
    addr = ctypes.addressof(buf) + 1  # misaligned on purpose
    assert put(addr, 0x01020304) == addr + 4
    assert bytes(buf[1:5]) == b"\x01\x02\x03\x04"
    assert get(addr) == 0x04030201
