"""app_client and app_server: Real Python's application protocol, against the
tutorial's Python peers and each other, with malformed input."""
import socket
import struct
import subprocess
import sys
import pathlib

import pytest

from conftest import have_valgrind, run

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
        proc = subprocess.Popen([str(pathlib.Path(__file__).parents[2] / "build/examples/app_client"),
                                 "127.0.0.1", str(port), "search", "x"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                text=True)
        conn, _ = lsock.accept()
        app_peer.read_message(conn)
        conn.sendall(reply)
        out, err = proc.communicate(timeout=20)
        conn.close()
        assert proc.returncode == 1 and "app_client:" in err, (reply, out, err)
    lsock.close()
