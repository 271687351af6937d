"""ctypes tests for frames and sl_conn: what a Python caller sees."""
import ctypes
import errno
import socket
import struct
import threading

import pytest

from conftest import declare

c_size_p = ctypes.POINTER(ctypes.c_size_t)
c_void_pp = ctypes.POINTER(ctypes.c_void_p)
SL_CONN_OWN_FD = 1


class SlFrameProgress(ctypes.Structure):
    _fields_ = [("received", ctypes.c_size_t), ("declared", ctypes.c_uint64), ("prefix", ctypes.c_uint8 * 8)]


class SlFrame(ctypes.Structure):
    _fields_ = [("payload", ctypes.c_void_p), ("len", ctypes.c_size_t)]


@pytest.fixture(scope="module")
def sl(lib):
    class Api:
        send_frame = declare(lib, "sl_send_frame", ctypes.c_ssize_t, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, c_size_p)
        recv_frame = declare(lib, "sl_recv_frame", ctypes.c_ssize_t, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, c_size_p)
        conn_new = declare(lib, "sl_conn_new", ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t, ctypes.c_int)
        conn_free = declare(lib, "sl_conn_free", None, ctypes.c_void_p)
        conn_fd = declare(lib, "sl_conn_fd", ctypes.c_int, ctypes.c_void_p)
        conn_buffered = declare(lib, "sl_conn_buffered", ctypes.c_size_t, ctypes.c_void_p)
        conn_pending = declare(lib, "sl_conn_pending", ctypes.c_size_t, ctypes.c_void_p)
        read_exact = declare(lib, "sl_conn_read_exact", ctypes.c_ssize_t, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
        read_frame = declare(lib, "sl_conn_read_frame", ctypes.c_ssize_t, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
        read_until = declare(lib, "sl_conn_read_until", ctypes.c_ssize_t, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
        write_frame = declare(lib, "sl_conn_write_frame", ctypes.c_ssize_t, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
        fill = declare(lib, "sl_conn_fill", ctypes.c_ssize_t, ctypes.c_void_p)
        next_frame = declare(lib, "sl_conn_next_frame", ctypes.c_int, ctypes.c_void_p, c_void_pp, c_size_p)
        next_record = declare(lib, "sl_conn_next_record", ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, c_void_pp, c_size_p)
        queue_frame = declare(lib, "sl_conn_queue_frame", ctypes.c_ssize_t, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
        queue = declare(lib, "sl_conn_queue", ctypes.c_ssize_t, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
        next_frames = declare(lib, "sl_conn_next_frames", ctypes.c_ssize_t, ctypes.c_void_p, ctypes.POINTER(SlFrame), ctypes.c_size_t)
        queue_frames = declare(lib, "sl_conn_queue_frames", ctypes.c_ssize_t, ctypes.c_void_p, ctypes.c_void_p, c_size_p, ctypes.c_size_t)
        reserve_frames = declare(lib, "sl_conn_reserve_frames", ctypes.c_ssize_t, ctypes.c_void_p, c_size_p, ctypes.c_size_t, c_void_pp)
        flush = declare(lib, "sl_conn_flush", ctypes.c_ssize_t, ctypes.c_void_p)
        send_frame_prefix = declare(lib, "sl_send_frame_prefix", ctypes.c_ssize_t, ctypes.c_int, ctypes.c_size_t, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, c_size_p)
        recv_frame_prefix = declare(lib, "sl_recv_frame_prefix", ctypes.c_ssize_t, ctypes.c_int, ctypes.c_size_t, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.POINTER(SlFrameProgress))
        set_prefix = declare(lib, "sl_conn_set_prefix", ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
        set_high_water = declare(lib, "sl_conn_set_high_water", ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t)
        recv_frame_resume = declare(lib, "sl_recv_frame_resume", ctypes.c_ssize_t, ctypes.c_int, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.POINTER(SlFrameProgress))
    return Api


def frame(payload):
    return struct.pack(">I", len(payload)) + payload


def test_send_frame_and_recv_frame_between_python_sockets(sl):
    a, b = socket.socketpair()
    sent = ctypes.c_size_t(0)
    assert sl.send_frame(a.fileno(), b"ctypes", 6, 1000, ctypes.byref(sent)) == 6
    assert sent.value == 10
    assert b.recv(64) == frame(b"ctypes")
    big = bytes(range(256)) * 4096
    t = threading.Thread(target=lambda: a.sendall(frame(big) + frame(b"")))
    t.start()
    buf = ctypes.create_string_buffer(len(big))
    got = ctypes.c_size_t(0)
    assert sl.recv_frame(b.fileno(), buf, len(big), 5000, ctypes.byref(got)) == len(big)
    assert got.value == len(big) + 4 and buf.raw == big
    assert sl.recv_frame(b.fileno(), buf, len(big), 5000, None) == 0
    t.join()
    a.sendall(struct.pack(">I", 0xFFFFFFFF))
    assert sl.recv_frame(b.fileno(), buf, 16, 1000, ctypes.byref(got)) == -1
    assert ctypes.get_errno() == errno.EMSGSIZE and got.value == 4
    a.close()
    b.close()


def test_recv_frame_resume_keeps_every_byte_across_timeouts(sl):
    a, b = socket.socketpair()
    wire = frame(b"resumable")
    buf = ctypes.create_string_buffer(32)
    progress = SlFrameProgress()
    for i, byte in enumerate(wire[:-1]):
        a.send(bytes([byte]))
        assert sl.recv_frame_resume(b.fileno(), buf, 32, 0, ctypes.byref(progress)) == -1
        assert ctypes.get_errno() == errno.EAGAIN
        assert progress.received == i + 1
    assert progress.declared == 9
    a.send(wire[-1:])
    assert sl.recv_frame_resume(b.fileno(), buf, 32, 1000, ctypes.byref(progress)) == 9
    assert buf.raw[:9] == b"resumable" and progress.received == 0
    a.close()
    b.close()


def test_prefixes_match_struct_packed_frames(sl):
    a, b = socket.socketpair()
    sent = ctypes.c_size_t(0)
    for width, fmt in [(1, "B"), (2, "H"), (4, "I"), (8, "Q")]:
        for flags, order in [(0, ">"), (1, "<")]:
            wire = struct.pack(order + fmt, 5) + b"hello"
            assert sl.send_frame_prefix(a.fileno(), width, flags, b"hello", 5, 1000, ctypes.byref(sent)) == 5
            assert b.recv(64) == wire
            a.sendall(wire)
            buf = ctypes.create_string_buffer(8)
            progress = SlFrameProgress()
            assert sl.recv_frame_prefix(b.fileno(), width, flags, buf, 8, 1000, ctypes.byref(progress)) == 5
            assert buf.raw[:5] == b"hello"
    assert sl.send_frame_prefix(a.fileno(), 3, 0, b"x", 1, 0, None) == -1
    assert ctypes.get_errno() == errno.EINVAL
    c = sl.conn_new(a.fileno(), 1000, 0)
    assert sl.set_prefix(c, 2, 1) == 0
    assert sl.write_frame(c, b"hi", 2, 1000) == 2
    assert b.recv(64) == b"\x02\x00hi"
    assert sl.set_high_water(c, 3) == 0
    assert sl.queue(c, b"abc", 3) == 3
    assert sl.queue(c, b"d", 1) == -1 and ctypes.get_errno() == errno.ENOBUFS
    assert sl.conn_pending(c) == 3
    sl.conn_free(c)
    a.close()
    b.close()


def test_conn_blocking_reads_keep_what_follows(sl):
    a, b = socket.socketpair()
    c = sl.conn_new(b.fileno(), 1024, 0)
    assert c and sl.conn_fd(c) == b.fileno()
    a.sendall(frame(b"one") + b"line\r\nrecordEND12345" + frame(b"x" * 2000))
    buf = ctypes.create_string_buffer(1024)
    assert sl.read_frame(c, buf, 1024, 1000) == 3 and buf.raw[:3] == b"one"
    assert sl.read_until(c, b"\r\n", 2, buf, 1024, 1000) == 4 and buf.raw[:4] == b"line"
    assert sl.read_until(c, b"END", 3, buf, 1024, 1000) == 6 and buf.raw[:6] == b"record"
    assert sl.read_exact(c, buf, 5, 1000) == 5 and buf.raw[:5] == b"12345"
    assert sl.read_frame(c, buf, 1024, 1000) == -1
    assert ctypes.get_errno() == errno.EMSGSIZE
    a.sendall(frame(b"after"))
    assert sl.read_frame(c, buf, 1024, 1000) == 5 and buf.raw[:5] == b"after"
    assert sl.read_frame(c, buf, 1024, 0) == -1 and ctypes.get_errno() == errno.EAGAIN
    a.sendall(b"\x00\x00")
    a.close()
    assert sl.read_frame(c, buf, 1024, 1000) == -1 and ctypes.get_errno() == errno.EPIPE
    assert sl.conn_buffered(c) == 2
    sl.conn_free(c)
    b.close()


def test_conn_event_loop_steps(sl):
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    w = sl.conn_new(a.fileno(), 64, 0)
    r = sl.conn_new(b.detach(), 64, SL_CONN_OWN_FD)
    assert sl.fill(r) == -1 and ctypes.get_errno() == errno.EAGAIN
    pending = 0
    for i in range(100):
        pending += 4 + len(str(i))
        assert sl.queue_frame(w, str(i).encode(), len(str(i))) == pending
    assert sl.conn_pending(w) > 0
    assert sl.flush(w) == 0 and sl.conn_pending(w) == 0
    ptr, n = ctypes.c_void_p(), ctypes.c_size_t()
    got = []
    while len(got) < 100:
        assert sl.fill(r) > 0
        while sl.next_frame(r, ctypes.byref(ptr), ctypes.byref(n)) == 1:
            got.append(ctypes.string_at(ptr, n.value).decode())
    assert got == [str(i) for i in range(100)]
    # Records after the frames: a reader taking frames would take "tail" for a
    # header, so they are sent once the frames are taken.
    assert sl.next_frame(r, ctypes.byref(ptr), ctypes.byref(n)) == 0
    assert sl.queue(w, b"tail\n", 5) == 5 and sl.flush(w) == 0
    assert sl.fill(r) == 5
    assert sl.next_record(r, b"\n", 1, ctypes.byref(ptr), ctypes.byref(n)) == 1
    assert ctypes.string_at(ptr, n.value) == b"tail"
    a.close()
    assert sl.fill(r) == 0
    sl.conn_free(w)
    sl.conn_free(r)


def test_conn_batches_queue_frames_and_next_frames(sl):
    a, b = socket.socketpair()
    a.setblocking(False)
    b.setblocking(False)
    w = sl.conn_new(a.fileno(), 64, 0)
    r = sl.conn_new(b.fileno(), 128, 0)
    payloads = [b"", b"one", b"x" * 64, b"three"]
    lens = (ctypes.c_size_t * 4)(*map(len, payloads))
    joined = b"".join(payloads)
    assert sl.queue_frames(w, joined, lens, 4) == 16 + len(joined)
    # All or nothing: one length over 4 GiB - 1 queues none of the batch.
    too_long = (ctypes.c_size_t * 2)(1, 1 << 32)
    assert sl.queue_frames(w, joined, too_long, 2) == -1 and ctypes.get_errno() == errno.EMSGSIZE
    assert sl.conn_pending(w) == 16 + len(joined) and sl.flush(w) == 0
    assert sl.fill(r) == 16 + len(joined)
    out = (SlFrame * 3)()
    assert sl.next_frames(r, out, 3) == 3
    assert [ctypes.string_at(f.payload, f.len) for f in out] == payloads[:3]
    assert sl.next_frames(r, out, 3) == 1 and ctypes.string_at(out[0].payload, out[0].len) == b"three"
    assert sl.next_frames(r, out, 3) == 0
    # A frame over the limit ends a batch and is reported by the next call.
    a.send(frame(b"ok") + struct.pack(">I", 129) + b"y" * 129 + frame(b"after"))
    while sl.conn_buffered(r) < 8:
        assert sl.fill(r) > 0
    assert sl.next_frames(r, out, 3) == 1 and ctypes.string_at(out[0].payload, out[0].len) == b"ok"
    assert sl.next_frames(r, out, 3) == -1 and ctypes.get_errno() == errno.EMSGSIZE
    got = []
    while not got:
        assert sl.fill(r) > 0
        got = [ctypes.string_at(f.payload, f.len) for f in out[:max(sl.next_frames(r, out, 3), 0)]]
    assert got == [b"after"]
    # Built in place: headers written, payload slots handed out zeroed.
    slots = (ctypes.c_void_p * 2)()
    lens = (ctypes.c_size_t * 2)(2, 3)
    assert sl.reserve_frames(w, lens, 2, slots) == 13
    assert ctypes.string_at(slots[0], 2) == b"\0\0"
    ctypes.memmove(slots[0], b"in", 2)
    ctypes.memmove(slots[1], b"out", 3)
    assert sl.flush(w) == 0 and sl.fill(r) == 13
    assert sl.next_frames(r, out, 3) == 2
    assert [ctypes.string_at(f.payload, f.len) for f in out[:2]] == [b"in", b"out"]
    assert sl.reserve_frames(w, too_long, 2, slots) == -1 and ctypes.get_errno() == errno.EMSGSIZE
    assert sl.next_frames(None, out, 3) == -1 and ctypes.get_errno() == errno.EINVAL
    assert sl.next_frames(r, None, 3) == -1 and ctypes.get_errno() == errno.EINVAL
    assert sl.queue_frames(w, joined, None, 4) == -1 and ctypes.get_errno() == errno.EINVAL
    sl.conn_free(w)
    sl.conn_free(r)
    a.close()
    b.close()


def test_conn_bad_arguments(sl):
    assert sl.conn_new(-1, 10, 0) is None and ctypes.get_errno() == errno.EINVAL
    assert sl.conn_new(0, 10, 4) is None and ctypes.get_errno() == errno.EINVAL
    assert sl.conn_fd(None) == -1 and ctypes.get_errno() == errno.EINVAL
    assert sl.fill(None) == -1 and ctypes.get_errno() == errno.EINVAL
    sl.conn_free(None)
