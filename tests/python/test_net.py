"""Connection setup and teardown through ctypes: TCP on loopback (IPv4/IPv6),
accept timeouts, Unix sockets, options, graceful close and bad inputs."""
import ctypes
import errno
import fcntl
import os
import select
import socket
import tempfile
import threading
import time

import pytest

from conftest import declare

ADDRSTRLEN = 112  # SL_ADDRSTRLEN
ACCEPT_NONBLOCK = 1  # SL_ACCEPT_NONBLOCK


@pytest.fixture(scope="module")
def net(lib):
    c_int, c_char_p = ctypes.c_int, ctypes.c_char_p
    int_p = ctypes.POINTER(ctypes.c_int)

    class Net:
        tcp_connect = declare(lib, "sl_tcp_connect", c_int, c_char_p, c_int, c_int)
        tcp_listen = declare(lib, "sl_tcp_listen", c_int, c_char_p, c_int, c_int)
        local_port = declare(lib, "sl_local_port", c_int, c_int)
        accept_raw = declare(lib, "sl_accept", c_int, c_int, c_int, c_int, ctypes.c_char_p, ctypes.c_size_t)
        unix_listen = declare(lib, "sl_unix_listen", c_int, c_char_p, c_int)
        unix_connect = declare(lib, "sl_unix_connect", c_int, c_char_p, c_int)
        set_nonblocking = declare(lib, "sl_set_nonblocking", c_int, c_int, c_int)
        set_nodelay = declare(lib, "sl_set_nodelay", c_int, c_int, c_int)
        set_keepalive = declare(lib, "sl_set_keepalive", c_int, c_int, c_int, c_int, c_int, c_int)
        set_buffer_sizes = declare(lib, "sl_set_buffer_sizes", c_int, c_int, c_int, c_int)
        get_buffer_sizes = declare(lib, "sl_get_buffer_sizes", c_int, c_int, int_p, int_p)
        close_graceful = declare(lib, "sl_close_graceful", c_int, c_int, c_int)
        resolve_strerror = declare(lib, "sl_resolve_strerror", c_char_p, c_int)
        tcp_connect_start = declare(lib, "sl_tcp_connect_start", c_int, c_char_p, c_int)
        connect_finish = declare(lib, "sl_connect_finish", c_int, c_int, c_int)
        unix_connect_start = declare(lib, "sl_unix_connect_start", c_int, c_char_p)

        @staticmethod
        def accept(fd, timeout_ms, flags=0):
            peer = ctypes.create_string_buffer(ADDRSTRLEN)
            conn = Net.accept_raw(fd, flags, timeout_ms, peer, len(peer))
            return conn, peer.value.decode()

    return Net


def fail_errno(rc):
    assert rc == -1, rc
    return ctypes.get_errno()


def assert_cloexec(fd):
    assert fcntl.fcntl(fd, fcntl.F_GETFD) & fcntl.FD_CLOEXEC


def talk(a, b):
    os.write(a, b"ping")
    assert os.read(b, 4) == b"ping"
    os.write(b, b"pong")
    assert os.read(a, 4) == b"pong"


def test_started_connects_finish_from_a_python_selector(net):
    import selectors
    listener = socket.create_server(("127.0.0.1", 0), backlog=32)
    port = listener.getsockname()[1]
    sel = selectors.DefaultSelector()
    fds = [net.tcp_connect_start(b"127.0.0.1", port) for _ in range(20)]
    assert all(fd >= 0 for fd in fds)
    for fd in fds:
        sel.register(fd, selectors.EVENT_WRITE)
    done = set()
    while len(done) < len(fds):
        events = sel.select(timeout=5)
        assert events, "no progress in 5 s"
        for key, _ in events:
            assert net.connect_finish(key.fd, 0) == 0
            sel.unregister(key.fd)
            done.add(key.fd)
    accepted = [listener.accept()[0] for _ in fds]
    assert fail_errno(net.connect_finish(listener.fileno(), 0)) == errno.EINVAL
    never = socket.socket()
    assert fail_errno(net.connect_finish(never.fileno(), 0)) == errno.ENOTCONN
    for fd in fds:
        os.close(fd)
    for a in accepted:
        a.close()
    never.close()
    sel.close()
    listener.close()


def test_tcp_ipv4_round_trip(net):
    listener = net.tcp_listen(b"127.0.0.1", 0, 8)
    assert listener >= 0
    assert_cloexec(listener)
    port = net.local_port(listener)
    client = net.tcp_connect(b"127.0.0.1", port, 2000)
    assert client >= 0
    assert_cloexec(client)
    server, peer = net.accept(listener, 2000)
    assert server >= 0
    assert_cloexec(server)
    assert peer == f"127.0.0.1:{net.local_port(client)}"
    talk(client, server)
    for fd in (client, server, listener):
        os.close(fd)


def test_tcp_ipv6_round_trip(net):
    listener = net.tcp_listen(b"::1", 0, 8)
    if listener < 0:
        pytest.skip(f"no ::1 here: {os.strerror(ctypes.get_errno())}")
    client = net.tcp_connect(b"::1", net.local_port(listener), 2000)
    server, peer = net.accept(listener, 2000)
    assert peer == f"[::1]:{net.local_port(client)}"
    talk(client, server)
    for fd in (client, server, listener):
        os.close(fd)


def test_python_clients_reach_an_all_interfaces_listener(net):
    listener = net.tcp_listen(None, 0, 8)
    port = net.local_port(listener)
    with socket.create_connection(("127.0.0.1", port), timeout=2) as c:
        server, peer = net.accept(listener, 2000)
        assert peer == "127.0.0.1:%d" % c.getsockname()[1]
        os.close(server)
    os.close(listener)


def test_refused_and_timed_out_connects(net):
    probe = socket.socket()
    probe.bind(("127.0.0.1", 0))
    closed = probe.getsockname()[1]
    probe.close()
    started = time.monotonic()
    assert fail_errno(net.tcp_connect(b"127.0.0.1", closed, 10000)) == errno.ECONNREFUSED
    assert time.monotonic() - started < 5

    # A listener with a full accept queue drops SYNs: the connect never completes.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    queued = []
    for _ in range(16):
        s = socket.socket()
        s.setblocking(False)
        s.connect_ex(listener.getsockname())
        queued.append(s)
        if not select.select([], [s], [], 0.3)[1]:
            break
    else:
        pytest.skip("could not fill a listen backlog here")
    started = time.monotonic()
    assert fail_errno(net.tcp_connect(b"127.0.0.1", listener.getsockname()[1], 300)) == errno.ETIMEDOUT
    took = time.monotonic() - started
    assert 0.299 <= took < 3
    for s in queued:
        s.close()
    listener.close()


def test_accept_timeout_and_nonblocking(net):
    listener = net.tcp_listen(b"127.0.0.1", 0, 8)
    started = time.monotonic()
    assert fail_errno(net.accept(listener, 150)[0]) == errno.ETIMEDOUT
    assert time.monotonic() - started >= 0.149
    with socket.create_connection(("127.0.0.1", net.local_port(listener)), timeout=2):
        server, _ = net.accept(listener, 2000, ACCEPT_NONBLOCK)
        assert os.get_blocking(server) is False
        os.close(server)
    os.close(listener)


def test_unix_stale_file_and_abstract_name(net):
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "s.sock").encode()
        dead = socket.socket(socket.AF_UNIX)
        dead.bind(path)
        dead.close()  # the file stays: a stale socket
        listener = net.unix_listen(path, 4)
        assert listener >= 0
        client = net.unix_connect(path, 2000)
        server, peer = net.accept(listener, 2000)
        assert peer == ""
        talk(client, server)
        for fd in (client, server, listener):
            os.close(fd)
    name = b"@sockloop-pytest-%d" % os.getpid()
    listener = net.unix_listen(name, 4)
    assert listener >= 0
    with socket.socket(socket.AF_UNIX) as c:
        c.connect(b"\0" + name[1:])  # Python's spelling of the same abstract name
        server, _ = net.accept(listener, 2000)
        c.sendall(b"hi")
        assert os.read(server, 2) == b"hi"
        os.close(server)
    os.close(listener)


def test_options(net):
    a, b = socket.socketpair()
    assert net.set_nonblocking(a.fileno(), 1) == 0 and os.get_blocking(a.fileno()) is False
    assert net.set_nonblocking(a.fileno(), 0) == 0 and os.get_blocking(a.fileno()) is True
    assert fail_errno(net.set_nodelay(a.fileno(), 1)) == errno.EOPNOTSUPP
    a.close()
    b.close()
    listener = socket.create_server(("127.0.0.1", 0))
    with socket.create_connection(listener.getsockname()) as c:
        assert net.set_nodelay(c.fileno(), 1) == 0
        assert c.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        assert net.set_keepalive(c.fileno(), 1, 42, 7, 5) == 0
        assert c.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 42
        assert c.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 7
        assert c.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 5
        assert net.set_buffer_sizes(c.fileno(), 20000, 30000) == 0
        snd, rcv = ctypes.c_int(), ctypes.c_int()
        assert net.get_buffer_sizes(c.fileno(), ctypes.byref(snd), ctypes.byref(rcv)) == 0
        assert (snd.value, rcv.value) == (40000, 60000)  # Linux doubles
    listener.close()


def test_graceful_close_sees_the_peer_finish(net):
    a, b = socket.socketpair()
    b.sendall(b"never read by a")

    def peer():
        assert b.recv(100) == b"last words"
        assert b.recv(100) == b""  # a's shutdown(SHUT_WR)
        b.sendall(b"bye")
        b.close()

    t = threading.Thread(target=peer)
    t.start()
    fd = a.detach()
    os.write(fd, b"last words")
    assert net.close_graceful(fd, 5000) == 0
    t.join()
    with pytest.raises(OSError):
        os.fstat(fd)  # closed (no other thread opens fds meanwhile)

    a, b = socket.socketpair()
    assert fail_errno(net.close_graceful(a.detach(), 100)) == errno.ETIMEDOUT
    assert b.recv(1) == b""
    b.close()


def test_bad_inputs(net):
    assert fail_errno(net.tcp_connect(None, 80, 100)) == errno.EINVAL
    assert fail_errno(net.tcp_connect(b"", 80, 100)) == errno.EINVAL
    assert fail_errno(net.tcp_connect(b"127.0.0.1", 0, 100)) == errno.EINVAL
    assert fail_errno(net.tcp_listen(b"127.0.0.1", 0, -1)) == errno.EINVAL
    assert fail_errno(net.unix_listen(b"/tmp/" + b"x" * 120, 1)) == errno.ENAMETOOLONG
    assert fail_errno(net.unix_connect(None, 100)) == errno.EINVAL
    assert fail_errno(net.accept_raw(-1, 0, 0, None, 0)) == errno.EINVAL
    small = ctypes.create_string_buffer(8)
    listener = net.tcp_listen(b"127.0.0.1", 0, 1)
    assert fail_errno(net.accept_raw(listener, 0, 0, small, len(small))) == errno.EINVAL
    os.close(listener)


def test_resolve_strerror_gives_the_resolvers_text(net):
    libc = ctypes.CDLL(None)
    gai_strerror = declare(libc, "gai_strerror", ctypes.c_char_p, ctypes.c_int)
    assert net.resolve_strerror(errno.ENOENT) == gai_strerror(socket.EAI_NONAME)
    assert net.resolve_strerror(errno.EHOSTDOWN) == gai_strerror(socket.EAI_AGAIN)
    assert net.resolve_strerror(errno.ECONNREFUSED).decode() == os.strerror(errno.ECONNREFUSED)
