"""The public API as a Python library presents it: __all__, a docstring and
type hints on every public name, private internals; and every public
function checks its arguments as the standard library does (TypeError for a
wrong type, ValueError for a bad value, OverflowError for a number too large
for its C type), never passing garbage to C."""
import inspect
import socket

import pytest

import sockloop
from sockloop import byteorder, net

MODULES = [sockloop, byteorder, net, sockloop.io, sockloop.frame, sockloop.conn, sockloop.ready, sockloop.selector]


def public_names():
    for module in MODULES:
        for name in module.__all__:
            yield module, name, getattr(module, name)


def test_every_module_has_all_and_a_docstring():
    for module in MODULES:
        assert module.__doc__ and module.__doc__.strip(), module.__name__
        assert module.__all__, module.__name__
        for name in module.__all__:
            assert hasattr(module, name), f"{module.__name__}.{name}"
    assert "lib" not in sockloop.__all__ and not hasattr(sockloop, "lib"), "the raw library handle is private"


def test_every_public_name_has_a_docstring_and_type_hints():
    missing = []
    for module, name, obj in public_names():
        if inspect.ismodule(obj) or name.startswith("__") or isinstance(obj, int):
            continue
        members = [(name, obj)]
        if inspect.isclass(obj):
            members += [(f"{name}.{m}", v) for m, v in vars(obj).items()
                        if not m.startswith("_") and (callable(v) or isinstance(v, property))]
        for label, member in members:
            fn = member.fget if isinstance(member, property) else member
            if not (fn.__doc__ or "").strip():
                missing.append(f"{module.__name__}.{label}: docstring")
            if inspect.isfunction(fn):
                hints = fn.__annotations__
                params = [p for p in inspect.signature(fn).parameters if p not in ("self", "cls")]
                if "return" not in hints or any(p not in hints for p in params):
                    missing.append(f"{module.__name__}.{label}: type hints")
    assert not missing, missing


def test_the_package_is_typed():
    import pathlib
    assert (pathlib.Path(sockloop.__file__).parent / "py.typed").exists()


@pytest.fixture
def pair():
    a, b = socket.socketpair()
    yield a, b
    a.close()
    b.close()


def closed_socket():
    s = socket.socket()
    s.close()
    return s


# (call, exception): one row or more for every public function.
def bad_calls(a, b):
    conn = sockloop.Conn(b)
    sel = sockloop.Selector()
    ring = sockloop.Ring()
    return [
        (lambda: sockloop.send_all(a, "text"), TypeError),
        (lambda: sockloop.send_all("foo", b"x"), TypeError),
        (lambda: sockloop.send_all(-1, b"x"), ValueError),
        (lambda: sockloop.send_all(2**32 + a.fileno(), b"x"), OverflowError),
        (lambda: sockloop.send_all(closed_socket(), b"x"), ValueError),
        (lambda: sockloop.send_all(a, b"x", timeout=-1), ValueError),
        (lambda: sockloop.send_all(a, b"x", timeout="1"), TypeError),
        (lambda: sockloop.send_all(a, b"x", timeout=float("nan")), ValueError),
        (lambda: sockloop.send_all(a, b"x", timeout=1e300), OverflowError),
        (lambda: sockloop.recv_exact(a, -1), ValueError),
        (lambda: sockloop.recv_exact(a, 2**70), OverflowError),
        (lambda: sockloop.recv_exact(a, b"read-only"), TypeError),
        (lambda: sockloop.recv_exact(a, 1.5), TypeError),
        (lambda: sockloop.send_allv(a, ["x"]), TypeError),
        (lambda: sockloop.send_allv(a, [b"x"] * 2000), ValueError),
        (lambda: sockloop.send_frame(a, "x"), TypeError),
        (lambda: sockloop.recv_frame(a, -1), ValueError),
        (lambda: sockloop.recv_frame(a, 2**33), OverflowError),
        (lambda: sockloop.recv_frame(a, "64"), TypeError),
        (lambda: sockloop.wait_readable("foo"), TypeError),
        (lambda: sockloop.wait_readable(a, timeout=-0.5), ValueError),
        (lambda: sockloop.wait_writable(-3), ValueError),
        (lambda: sockloop.wait_writable(a, timeout=[1]), TypeError),
        (lambda: sockloop.select([a], [], [], timeout=-1), ValueError),
        (lambda: sockloop.select(["foo"], [], []), TypeError),
        (lambda: sockloop.select([2**40], [], []), OverflowError),
        (lambda: sockloop.select(5, [], []), TypeError),
        (lambda: sockloop.htons(70000), OverflowError),
        (lambda: sockloop.htons(-1), OverflowError),
        (lambda: sockloop.htons(1.0), TypeError),
        (lambda: sockloop.ntohs(2**16), OverflowError),
        (lambda: sockloop.htonl(2**32), OverflowError),
        (lambda: sockloop.ntohl("1"), TypeError),
        (lambda: sockloop.htonll(2**64), OverflowError),
        (lambda: sockloop.ntohll(-1), OverflowError),
        (lambda: byteorder.put(bytearray(8), 0, 2**32), OverflowError),
        (lambda: byteorder.put(bytearray(8), 0, 1, bits=16, order="xx"), ValueError),
        (lambda: byteorder.put(bytearray(8), 0, 1, bits=24), ValueError),
        (lambda: byteorder.put(b"readonly", 0, 1), TypeError),
        (lambda: byteorder.put(bytearray(8), 6, 1), IndexError),
        (lambda: byteorder.get(bytearray(8), "0"), TypeError),
        (lambda: byteorder.get(bytearray(8), -1), IndexError),
        (lambda: sockloop.Conn(b, max_message=-1), ValueError),
        (lambda: sockloop.Conn(b, max_message=2**32), OverflowError),
        (lambda: sockloop.Conn("foo"), TypeError),
        (lambda: conn.read_until("\r\n", timeout=0), TypeError),
        (lambda: conn.read_until(b"", timeout=0), ValueError),
        (lambda: conn.read_exact(-1), ValueError),
        (lambda: conn.read_exact(2**70), OverflowError),
        (lambda: conn.read_frame(timeout=-1), ValueError),
        (lambda: conn.read_frame(max_size=-1), ValueError),
        (lambda: conn.write_frame("x"), TypeError),
        (lambda: conn.queue_frame("x"), TypeError),
        (lambda: conn.queue_frames(["x"]), TypeError),
        (lambda: conn.queue("x"), TypeError),
        (lambda: conn.records("\n"), TypeError),
        (lambda: sel.register("foo", sockloop.EVENT_READ), ValueError),
        (lambda: sel.register(a, 4), ValueError),
        (lambda: sel.register(2**32 + a.fileno(), sockloop.EVENT_READ), OverflowError),
        (lambda: sel.modify(a, sockloop.EVENT_READ), KeyError),
        (lambda: sel.unregister(3.0), ValueError),
        (lambda: sel.get_key("foo"), ValueError),
        (lambda: sel.select(timeout="1"), TypeError),
        (lambda: sel.select(timeout=1e10), OverflowError),
        (lambda: net.tcp_connect(None, 80), TypeError),
        (lambda: net.tcp_connect("127.0.0.1", 70000), OverflowError),
        (lambda: net.tcp_connect("127.0.0.1", "80"), TypeError),
        (lambda: net.tcp_listen(5, 0), TypeError),
        (lambda: net.tcp_listen("127.0.0.1", -1), OverflowError),
        (lambda: net.tcp_listen("127.0.0.1", 0, backlog=-1), ValueError),
        (lambda: net.local_port("foo"), TypeError),
        (lambda: net.accept(a, timeout=-2), ValueError),
        (lambda: net.unix_listen(5), TypeError),
        (lambda: net.unix_connect(None), TypeError),
        (lambda: net.resolve_strerror("2"), TypeError),
        (lambda: net.set_nonblocking("foo"), TypeError),
        (lambda: net.set_nodelay(-1), ValueError),
        (lambda: net.set_reuseaddr(closed_socket()), ValueError),
        (lambda: net.set_keepalive(a, True, idle=-1), ValueError),
        (lambda: net.set_keepalive(a, True, count=2**40), OverflowError),
        (lambda: net.set_buffer_sizes(a, sndbuf=-1), ValueError),
        (lambda: net.set_buffer_sizes(a, rcvbuf="big"), TypeError),
        (lambda: net.get_buffer_sizes(None), TypeError),
        (lambda: net.close_graceful("foo"), TypeError),
        (lambda: net.close_graceful(a, timeout=-1), ValueError),
        (lambda: ring.add("foo"), TypeError),
        (lambda: ring.add(a), TypeError),
        (lambda: ring.remove(conn), FileNotFoundError),
        (lambda: ring.remove(None), TypeError),
        (lambda: ring.wait(timeout=-1), ValueError),
        (lambda: ring.wait(timeout="1"), TypeError),
        (lambda: ring.wait(timeout=1e10), OverflowError),
    ], (ring, conn, sel)


def test_every_public_function_checks_its_arguments_as_the_stdlib_does(pair):
    a, b = pair
    rows, keep = bad_calls(a, b)
    wrong = []
    for i, (call, exc) in enumerate(rows):
        try:
            call()
        except exc:
            continue
        except BaseException as other:  # noqa: BLE001
            wrong.append(f"row {i}: {type(other).__name__}: {other} (want {exc.__name__})")
        else:
            wrong.append(f"row {i}: no error (want {exc.__name__})")
    for obj in keep:
        obj.close()
    assert not wrong, wrong


def test_each_public_function_has_an_argument_row():
    source = inspect.getsource(bad_calls)
    names = set()
    for module, name, obj in public_names():
        if inspect.isfunction(obj):
            names.add(name)
        if inspect.isclass(obj):
            names |= {m for m, v in vars(obj).items() if not m.startswith("_") and inspect.isfunction(v)}
    exempt = {"library_version", "library_path", "close", "fileno", "fill", "flush", "frames", "get_map"}
    missing = sorted(n for n in names - exempt if f"{n}(" not in source and f".{n}(" not in source)
    assert not missing, missing


def test_the_stdlib_agrees_on_the_byte_order_rows():
    for fn in (socket.htons, sockloop.htons):
        with pytest.raises(OverflowError):
            fn(70000)
        with pytest.raises(TypeError):
            fn(1.0)
    assert sockloop.htons(0x1234) == socket.htons(0x1234) and sockloop.ntohl(7) == socket.ntohl(7)


def test_the_type_hints_check_with_mypy():
    """mypy (from build/venv, where make python-package installs it) finds no
    error in the package, and a user's code using it type-checks."""
    import pathlib
    import subprocess
    from conftest import ROOT
    py = ROOT / "build" / "venv" / "bin" / "python"
    if not py.exists() or subprocess.run([str(py), "-c", "import mypy"], capture_output=True).returncode:
        pytest.skip("no mypy in build/venv (make python-package installs it)")
    pkg = ROOT / "bindings" / "python"
    out = subprocess.run([str(py), "-m", "mypy", "--no-incremental", "sockloop"], cwd=pkg, capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stdout[-3000:]
    user = ("import socket, sockloop\n"
            "a, b = socket.socketpair()\n"
            "n: int = sockloop.send_all(a, b'x', timeout=1.5)\n"
            "data: bytes = sockloop.recv_exact(b, 1)\n"
            "sel = sockloop.Selector()\n"
            "for key, events in sel.select(0):\n"
            "    fd: int = key.fd\n"
            "bad: str = sockloop.recv_exact(b, 1)\n")
    out = subprocess.run([str(py), "-m", "mypy", "--no-incremental", "-c", user], cwd=pkg, capture_output=True,
                         text=True)
    assert out.returncode == 1 and out.stdout.count("error:") == 1 and ":8:" in out.stdout, out.stdout
