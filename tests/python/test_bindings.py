"""The Python package: its signatures equal the header's, it installs with pip,
and its Pythonic layer works over real sockets."""
import ctypes
import struct
import errno
import os
import pathlib
import re
import select
import socket
import subprocess
import sys
import threading
import time

import pytest

from conftest import INSTALLED, ROOT

import sockloop  # noqa: E402
from sockloop._native import OPTIONAL, SIGNATURES  # noqa: E402

SCALARS = {
    "int": ctypes.c_int, "size_t": ctypes.c_size_t, "ssize_t": ctypes.c_ssize_t,
    "uint16_t": ctypes.c_uint16, "uint32_t": ctypes.c_uint32, "uint64_t": ctypes.c_uint64,
    "uint8_t": ctypes.c_uint8, "unsigned int": ctypes.c_uint, "void": None,
}


def c_kind(ctype):
    """A comparable name for a C type from the header."""
    ctype = ctype.replace("const ", "").strip()
    if ctype.endswith("_fn"):  # a function pointer typedef
        return "ptr"
    if ctype.endswith("*"):
        inner = ctype[:-1].strip()
        return "ptr:" + inner if inner in SCALARS and inner != "void" else "ptr"
    return ctypes.sizeof(SCALARS[ctype]), ctype.startswith("u") or ctype == "size_t"


def py_kind(t):
    if t is None:
        return "void"
    if t in (ctypes.c_void_p, ctypes.c_char_p) or issubclass(t, ctypes._CFuncPtr):
        return "ptr"
    if hasattr(t, "_type_") and isinstance(t._type_, type):  # POINTER(X)
        inner = [name for name, s in SCALARS.items() if s is t._type_ and name != "void"]
        return "ptr:" + inner[0] if inner else "ptr"
    return ctypes.sizeof(t), t(-1).value != -1  # (size, unsigned)


def header_prototypes():
    text = (ROOT / "include" / "sockloop.h").read_text()
    protos = {}
    for m in re.finditer(r"^([A-Za-z_][\w \*]*?[\s\*])(sl_\w+)\((.*?)\);", text, re.M):
        ret, name, args = m.group(1).strip(), m.group(2), m.group(3).strip()
        params = [] if args in ("", "void") else [re.sub(r"\s*\b\w+$", "", a.strip()) for a in args.split(",")]
        protos[name] = (ret, params)
    return protos


def test_every_header_function_is_declared_with_matching_types():
    protos = header_prototypes()
    assert len(protos) >= 21
    assert set(protos) <= set(SIGNATURES), "declare every function in sockloop/_native.py"
    assert set(SIGNATURES) - set(protos) <= OPTIONAL, "only the optional functions may be missing"
    for name, (ret, params) in protos.items():
        restype, argtypes = SIGNATURES[name]
        want_ret = "void" if ret == "void" else c_kind(ret)
        assert py_kind(restype) == want_ret, f"{name}: return type"
        assert len(argtypes) == len(params), f"{name}: argument count"
        for i, (c, p) in enumerate(zip(params, argtypes)):
            assert py_kind(p) == c_kind(c), f"{name}: argument {i} is {c}"


def test_a_missing_library_names_what_was_tried(tmp_path):
    env = dict(os.environ, SOCKLOOP_LIB=str(tmp_path / "nope.so"), LD_LIBRARY_PATH="")
    out = subprocess.run([sys.executable, "-c", "import sockloop"], capture_output=True, text=True,
                         cwd=tmp_path, env=dict(env, PYTHONPATH=str(ROOT / "bindings" / "python")))
    assert out.returncode != 0
    assert "libsockloop not found; tried:" in out.stderr and "nope.so" in out.stderr


def test_send_all_and_recv_exact_with_socket_objects_and_buffers():
    a, b = socket.socketpair()
    payload = os.urandom(2 << 20)
    got = bytearray(len(payload))
    reader = threading.Thread(target=sockloop.recv_exact, args=(b, memoryview(got), 5))
    reader.start()  # runs while the GIL is released in the sender's C call
    assert sockloop.send_all(a, memoryview(payload), timeout=5) == len(payload)
    reader.join()
    assert got == payload
    assert sockloop.send_allv(a.fileno(), [b"ab", bytearray(b"cd"), memoryview(b"ef")]) == 6
    assert sockloop.recv_exact(b, 6, timeout=1) == b"abcdef"
    a.close()
    b.close()


def test_errors_are_oserror_subclasses_with_the_count():
    a, b = socket.socketpair()
    b.sendall(b"1234")
    with pytest.raises(TimeoutError) as info:
        sockloop.recv_exact(a, 10, timeout=0.05)
    assert info.value.done == 4
    with pytest.raises(BlockingIOError) as info:
        sockloop.recv_exact(a, 10, timeout=0)
    assert info.value.done == 0
    b.close()
    with pytest.raises(BrokenPipeError) as info:
        sockloop.recv_exact(a, 10, timeout=1)
    assert info.value.done == 0
    with pytest.raises(BrokenPipeError):
        sockloop.send_all(a, b"x" * 100000, timeout=1)
    with pytest.raises(TypeError):
        sockloop.recv_exact(a, b"read-only", timeout=1)
    a.close()


def test_byte_order_from_python():
    buf = bytearray(16)
    sockloop.byteorder.put(buf, 3, 0x01020304)
    assert buf[3:7] == b"\x01\x02\x03\x04"
    assert sockloop.byteorder.get(buf, 3, 32, "le") == 0x04030201
    sockloop.byteorder.put(buf, 1, 0x0102030405060708, 64, "le")
    assert buf[1:9] == bytes(range(8, 0, -1))
    assert sockloop.htons(1) == socket.htons(1)
    with pytest.raises(IndexError):
        sockloop.byteorder.put(buf, 14, 1)


def test_connection_helpers_from_python(tmp_path):
    from sockloop import net
    listener = net.tcp_listen("127.0.0.1", 0)
    port = net.local_port(listener)
    client = net.tcp_connect("localhost", port, timeout=2)
    conn, peer = net.accept(listener, timeout=2)
    assert peer.startswith("127.0.0.1:") and int(peer.rsplit(":", 1)[1]) == client.getsockname()[1]
    net.set_nodelay(client)
    net.set_buffer_sizes(conn, 4096, 4096)
    snd, rcv = net.get_buffer_sizes(conn)
    assert snd == 8192 and rcv == 8192  # Linux doubles what was asked
    sockloop.send_all(client, b"last words")
    client.shutdown(socket.SHUT_WR)
    assert sockloop.recv_exact(conn, 10, timeout=1) == b"last words"
    assert net.close_graceful(conn, timeout=1) is True
    with pytest.raises(TimeoutError):
        net.accept(listener, timeout=0.05)
    listener.close()
    with pytest.raises(ConnectionRefusedError):
        net.tcp_connect("127.0.0.1", port, timeout=1)
    # (Unknown host names are tested in test_net.py inside a private network
    # namespace, so that no DNS query leaves the machine.)
    assert net.resolve_strerror(2)
    path = str(tmp_path / "s.sock")
    ul = net.unix_listen(path)
    uc = net.unix_connect(path, timeout=1)
    us, _ = net.accept(ul, timeout=1)
    sockloop.send_all(uc, b"unix")
    assert sockloop.recv_exact(us, 4, timeout=1) == b"unix"
    for s in (client, uc, us, ul):
        s.close()


def test_frames_and_conn_from_python():
    a, b = socket.socketpair()
    sockloop.send_frame(a, b"first")
    sockloop.send_frame(a, b"")
    a.sendall(b"line one\r\nline two\r\n")
    with sockloop.Conn(b, max_message=64) as conn:
        assert conn.read_frame(timeout=1) == b"first"
        assert conn.read_frame(timeout=1) == b""
        assert conn.read_until(b"\r\n", timeout=1) == b"line one"
        assert conn.read_until(b"\r\n", timeout=1) == b"line two"
        with pytest.raises(TimeoutError):
            conn.read_exact(3, timeout=0.05)
        sockloop.send_frame(a, b"x" * 65)  # over the limit: skipped, EMSGSIZE
        with pytest.raises(OSError) as info:
            conn.read_frame(timeout=1)
        assert info.value.errno == 90  # EMSGSIZE
    # Event-loop steps over a non-blocking pair.
    c, d = socket.socketpair()
    c.setblocking(False)
    d.setblocking(False)
    out, inp = sockloop.Conn(c), sockloop.Conn(d)
    for i in range(100):
        out.queue_frame(b"frame %d" % i)
    assert out.flush() == 0 and out.pending == 0
    got = []
    while len(got) < 100:
        assert inp.fill() > 0
        got += list(inp.frames())
    assert got == [b"frame %d" % i for i in range(100)]
    with pytest.raises(BlockingIOError):
        inp.fill()
    # Batches: many frames per C call, from any bytes-like payloads (a
    # memoryview of 4-byte items counts its bytes, not its items).
    payloads = [b"", bytearray(b"ba"), memoryview(b"mv"), memoryview(bytes(range(8))).cast("I")] + \
        [b"n%d" % i for i in range(600)]
    want = [bytes(memoryview(p).cast("B")) for p in payloads]
    assert out.queue_frames(payloads) == 4 * len(want) + sum(map(len, want))
    assert out.queue_frames([]) == out.pending
    while out.flush():
        select.select([], [c], [], 5)
    got = []
    while len(got) < len(want):
        assert select.select([d], [], [], 5)[0]
        assert inp.fill() > 0
        got += list(inp.frames())
    assert got == want
    c.close()
    assert inp.fill() == 0  # end of stream, distinct from "nothing yet"
    out.close()
    inp.close()
    a.close()
    b.close()
    d.close()


def test_conn_frames_and_records_keep_messages_taken_before_an_oversized_one():
    a, b = socket.socketpair()
    b.setblocking(False)
    with sockloop.Conn(b, max_message=64) as conn:
        a.sendall(struct.pack(">I", 1) + b"a" + struct.pack(">I", 1) + b"b" + struct.pack(">I", 65) + b"x" * 65
                  + struct.pack(">I", 1) + b"c")
        assert conn.fill() > 0
        assert conn.frames() == [b"a", b"b"]  # the batch stops at the oversized frame
        with pytest.raises(OSError) as info:
            conn.frames()
        assert info.value.errno == errno.EMSGSIZE
        got = []
        while not got:
            assert conn.fill() > 0
            got = conn.frames()
        assert got == [b"c"]
        a.sendall(b"r1\n" + b"y" * 70 + b"\nr2\n")
        assert conn.fill() > 0
        assert conn.records(b"\n") == [b"r1"]
        with pytest.raises(OSError) as info:
            conn.records(b"\n")
        assert info.value.errno == errno.EMSGSIZE
        got = []
        while not got:
            assert conn.fill() > 0
            got = conn.records(b"\n")
        assert got == [b"r2"]
    a.close()
    b.close()


def test_readiness_and_selector_from_python():
    a, b = socket.socketpair()
    assert sockloop.wait_readable(a, timeout=0) is False
    assert sockloop.wait_writable(a, timeout=0) is True
    b.sendall(b"x")
    assert sockloop.wait_readable(a, timeout=1) is True
    assert sockloop.select([a, b], [b], [], timeout=0) == ([a], [b], [])
    with sockloop.Selector() as sel:
        key = sel.register(a, sockloop.EVENT_READ, data="a-data")
        assert key.fd == a.fileno() and sel.get_key(a).data == "a-data"
        with pytest.raises(KeyError):
            sel.register(a, sockloop.EVENT_READ)
        with pytest.raises(ValueError):
            sel.register(b, 4)
        assert [(k.data, m) for k, m in sel.select(timeout=1)] == [("a-data", sockloop.EVENT_READ)]
        a.recv(1)
        assert sel.select(timeout=0.01) == []
        sel.modify(a, sockloop.EVENT_WRITE, data="w")
        assert [(k.data, m) for k, m in sel.select(0)] == [("w", sockloop.EVENT_WRITE)]
        assert sel.unregister(a).data == "w" and sel.get_map() == {}
        with pytest.raises(KeyError):
            sel.unregister(a)
    a.close()
    b.close()


def test_python_multiconn_example_on_the_selector():
    example = ROOT / "bindings" / "python" / "examples" / "multiconn_server.py"
    env = dict(os.environ) if INSTALLED else dict(os.environ, PYTHONPATH=str(ROOT / "bindings" / "python"))
    proc = subprocess.Popen([sys.executable, str(example), "127.0.0.1", "0"], stdout=subprocess.PIPE, text=True, env=env)
    try:
        port = int(re.search(r", (\d+)\)", proc.stdout.readline()).group(1))
        clients = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(10)]
        for i, c in enumerate(clients):
            c.sendall(b"Message %d from client." % i * 100)
        for i, c in enumerate(clients):
            want = b"Message %d from client." % i * 100
            assert sockloop.recv_exact(c, len(want), timeout=5) == want
            c.close()
    finally:
        proc.kill()
        proc.wait()


def test_the_gil_is_released_during_blocking_calls():
    a, b = socket.socketpair()
    waiter = threading.Thread(target=lambda: pytest.raises(TimeoutError, sockloop.recv_exact, a, 1, 0.5))
    waiter.start()
    spins, end = 0, time.monotonic() + 0.3
    while time.monotonic() < end:  # would barely run if the waiting thread held the GIL
        spins += 1
    waiter.join()
    assert spins > 10_000
    a.close()
    b.close()
