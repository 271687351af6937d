"""The examples once through the chaos proxy (tests/tools/chaos_proxy.c, built
by `make test-examples` into build/tools/): every write split into random small
segments with random delays, and connections cut with a FIN or an RST. One
random seed per run, in every failure message; repeat a run with
SL_TEST_SEED=<seed>."""
import os
import pathlib
import random
import re
import socket
import subprocess
import sys

import pytest

from conftest import run

sys.path.insert(0, str(pathlib.Path(__file__).parent))
import app_peer  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[2]
PROXY = ROOT / "build" / "tools" / "chaos_proxy"
SEED = int(os.environ.get("SL_TEST_SEED", random.randrange(1, 1 << 30)))
CHAOS = ["--split", "7", "--delay-us", "300"]


class Proxy:
    def __init__(self, target_port, *opts, connections=1):
        self.proc = subprocess.Popen([str(PROXY), "--target", str(target_port), "--seed", str(SEED),
                                      "--connections", str(connections), "--max-seconds", "60", *map(str, opts)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        assert line.startswith("port "), f"chaos_proxy did not start: {line!r} (seed {SEED})"
        self.port = int(line.split()[1])

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        return self.proc.communicate()[1]


@pytest.fixture
def proxy():
    if not PROXY.exists():
        pytest.fail(f"{PROXY} missing: run `make build/tools/chaos_proxy` (make test-examples builds it)")
    started = []

    def start(target_port, *opts, connections=1):
        p = Proxy(target_port, *opts, connections=connections)
        started.append(p)
        return p

    yield start
    for p in started:
        p.close()


def echo_lines(rng):
    return "".join(f"line {i} {'x' * rng.randrange(0, 3000)}\n" for i in range(40))


def test_echo_through_split_and_delayed_segments(server, proxy):
    srv = server("echo_server")
    px = proxy(srv.port, *CHAOS)
    lines = echo_lines(random.Random(SEED))
    out = run("echo_client", "127.0.0.1", px.port, input=lines, timeout=60)
    assert out.returncode == 0, f"seed {SEED}: {out.stderr}"
    assert out.stdout == lines, f"seed {SEED}"
    assert srv.stop()[0] == 0


def test_multiconn_through_split_and_delayed_segments(server, proxy):
    srv = server("multiconn_server")
    px = proxy(srv.port, *CHAOS, connections=10)
    out = run("multiconn_client", "127.0.0.1", px.port, 10, timeout=60)
    assert out.returncode == 0, f"seed {SEED}: {out.stderr}"
    # The client prints each chunk as it arrives: split segments come in pieces.
    got = {}
    for m in re.finditer(r"^received '(.*)' from connection (\d+)$", out.stdout, re.M):
        got[int(m.group(2))] = got.get(int(m.group(2)), "") + m.group(1)
    want = "Message 1 from client.Message 2 from client."
    assert got == {i: want for i in range(1, 11)}, f"seed {SEED}: {got}"
    for i in range(1, 11):
        assert f"closing connection {i}\n" in out.stdout, f"seed {SEED}"
    assert srv.stop()[0] == 0


def test_app_protocol_through_split_and_delayed_segments(server, proxy):
    srv = server("app_server")
    cases = [("search", "morpheus", "got result: Follow the white rabbit. \U0001f430"),
             ("double", "42", "got response: b'First 10 bytes of request: double42'")]
    px = proxy(srv.port, *CHAOS, connections=len(cases) + 1)
    for action, value, want in cases:
        out = run("app_client", "127.0.0.1", px.port, action, value, timeout=60)
        assert out.returncode == 0, f"seed {SEED}: {out.stderr}"
        assert out.stdout.splitlines()[-1] == want, f"seed {SEED}"
    # the tutorial's Python client through the same chaos
    kind, answer = app_peer.request("127.0.0.1", px.port, "search", "ring")
    assert (kind, answer) == ("result", "In the caves beneath the Misty Mountains. \U0001f48d"), f"seed {SEED}"
    assert srv.stop()[0] == 0


@pytest.mark.parametrize("how", ["fin", "rst"])
def test_a_cut_connection_is_an_error_and_the_servers_go_on(server, proxy, how):
    """The proxy cuts each connection after 1000 bytes from the client: the C
    client fails cleanly (exit 1 with a message, never a crash or a hang), and
    each server serves the next client directly."""
    rng = random.Random(SEED)
    for name in ("echo_server", "multiconn_server", "app_server"):
        srv = server(name)
        px = proxy(srv.port, "--split", "50", "--cut-after", "1000", "--cut", how)
        if name == "app_server":
            out = run("app_client", "127.0.0.1", px.port, "search", "x" * 5000, timeout=30)
        elif name == "echo_server":
            out = run("echo_client", "127.0.0.1", px.port, input=echo_lines(rng), timeout=30)
        else:
            # multiconn_client sends two short messages per connection: cut a
            # raw connection instead, mid-message.
            with socket.create_connection(("127.0.0.1", px.port), timeout=10) as s:
                s.sendall(rng.randbytes(4000))
                s.settimeout(10)
                try:
                    while s.recv(65536):
                        pass
                except ConnectionResetError:
                    pass
            out = None
        if out is not None:
            assert out.returncode == 1, f"seed {SEED} {name} {how}: {out.returncode} {out.stderr}"
            assert out.stderr.strip(), f"seed {SEED} {name} {how}: no error message"
        # the server is still there, for a client that talks to it directly
        if name == "app_server":
            ok = run("app_client", "127.0.0.1", srv.port, "double", "7", timeout=30)
            assert ok.returncode == 0, f"seed {SEED} {name} {how}: {ok.stderr}"
        else:
            ok = run("multiconn_client" if name == "multiconn_server" else "echo_client",
                     "127.0.0.1", srv.port, *([2] if name == "multiconn_server" else ["still here"]), timeout=30)
            assert ok.returncode == 0, f"seed {SEED} {name} {how}: {ok.stderr}"
        code, _, err = srv.stop()
        assert code == 0, f"seed {SEED} {name} {how}: {err}"
