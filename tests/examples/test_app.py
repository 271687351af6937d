"""app_client and app_server: Real Python's application protocol, against the
tutorial's Python peers and each other, with malformed input."""
import socket
import struct
import subprocess
import sys
import pathlib

import pytest

from conftest import BIN, have_valgrind, run

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import app_peer  # noqa: E402

CASES = [
    ("search", "morpheus", "got result: Follow the white rabbit. \U0001f430"),
    ("search", "ring", "got result: In the caves beneath the Misty Mountains. \U0001f48d"),
    ("search", "\U0001f436", "got result: \U0001f43e Playing ball! \U0001f3d0"),
    ("search", 'the "one" \\ ring', "got result: No match for 'the \"one\" \\ ring'."),
    ("double", "42", "got response: b'First 10 bytes of request: double42'"),
    ("reverse", "a long value that is cut", "got response: b'First 10 bytes of request: reversea l'"),
]


@pytest.fixture
def python_server():
    proc = subprocess.Popen([sys.executable, str(pathlib.Path(__file__).parent / "app_peer.py"), str(len(CASES) + 1)],
                            stdout=subprocess.PIPE, text=True)
    port = int(proc.stdout.readline().rsplit(":", 1)[1])
    yield port
    proc.kill()
    proc.wait()


def test_app_client_against_the_tutorials_python_server(python_server):
    for action, value, want in CASES:
        out = run("app_client", "127.0.0.1", python_server, action, value)
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines()[-1] == want
    if have_valgrind():
        out = run("app_client", "127.0.0.1", python_server, "search", "ring", valgrind=True)
        assert out.returncode == 0, out.stderr


def test_app_client_rejects_a_malformed_reply():
    """A server that declares a 60,000-byte JSON header and goes silent, then
    one that sends garbage: the client reports an error and exits, never hangs."""
    lsock = socket.create_server(("127.0.0.1", 0))
    port = lsock.getsockname()[1]
    for reply in (struct.pack(">H", 60000) + b"{", b"\x00\x05nope!", b"\x00\x02{}"):
        proc = subprocess.Popen([str(BIN / "app_client"),
                                 "127.0.0.1", str(port), "search", "x"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        conn, _ = lsock.accept()
        app_peer.read_message(conn)
        conn.sendall(reply)
        out, err = proc.communicate(timeout=20)
        conn.close()
        assert proc.returncode == 1 and "app_client:" in err, (reply, out, err)
    lsock.close()


def test_app_server_against_the_tutorials_python_client(server):
    srv = server("app_server")
    for action, value, want in CASES:
        kind, answer = app_peer.request("127.0.0.1", srv.port, action, value)
        got = f"got {kind}: " + (answer if kind == "result" else repr(answer))
        assert got == want
    # a JSON request with another action
    raw = app_peer.encode_message(b'{"action": "delete", "value": "x"}', "text/json", "utf-8")
    assert app_peer.request("127.0.0.1", srv.port, None, None, raw) == ("result", "Error: invalid action 'delete'.")
    # and the C client against the C server
    out = run("app_client", "127.0.0.1", srv.port, "search", "morpheus")
    assert out.returncode == 0 and out.stdout.splitlines()[-1] == CASES[0][2]
    assert srv.stop()[0] == 0


def bad_requests():
    header = lambda h: struct.pack(">H", len(h)) + h
    return {
        "garbage": bytes(range(256)) * 4,
        "bad JSON": header(b'{"byteorder": "little", "content-type": ') + b"x",
        "missing field": header(b'{"byteorder": "little", "content-type": "text/json", "content-length": 2}') + b"{}",
        "content over the limit": header(b'{"byteorder": "little", "content-type": "text/json", '
                                         b'"content-encoding": "utf-8", "content-length": 99999999}'),
        "JSON header over the limit": struct.pack(">H", 60000) + b"{",
        "content not JSON": app_peer.encode_message(b"not json", "text/json", "utf-8"),
        "search without value": app_peer.encode_message(b'{"action": "search"}', "text/json", "utf-8"),
    }


def test_app_server_survives_malformed_requests(server):
    srv = server("app_server")
    # Silent clients hold their connections open while others are served.
    silent = socket.create_connection(("127.0.0.1", srv.port))
    silent.sendall(struct.pack(">H", 4000) + b'{"byteorder"')
    silent_content = socket.create_connection(("127.0.0.1", srv.port))
    silent_content.sendall(app_peer.encode_message(b"x" * 60000, "binary/x", "binary")[:200])
    for name, raw in bad_requests().items():
        with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
            s.sendall(raw)
            assert s.recv(1) == b"", f"{name}: the server should close the connection"
        assert app_peer.request("127.0.0.1", srv.port, "search", "ring")[1].startswith("In the caves"), name
    # An abrupt close in the middle of a message.
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.sendall(app_peer.encode_message(b"abcdef" * 100, "binary/x", "binary")[:150])
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    assert app_peer.request("127.0.0.1", srv.port, "search", "morpheus")[0] == "result"
    silent.close()
    silent_content.close()
    code, _, err = srv.stop()
    assert code == 0
    assert "JSON header longer than the limit" in err and "content-length over the limit" in err


@pytest.mark.skipif(not have_valgrind(), reason="valgrind not installed")
def test_app_server_under_valgrind(server):
    srv = server("app_server", valgrind=True)
    for action, value, want in CASES[:2] + CASES[4:5]:
        out = run("app_client", "127.0.0.1", srv.port, action, value)
        assert out.returncode == 0 and out.stdout.splitlines()[-1] == want
    for raw in bad_requests().values():
        with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as s:
            s.sendall(raw)
            s.recv(1)
    code, _, err = srv.stop()
    assert code == 0, err
