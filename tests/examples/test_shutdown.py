"""SIGTERM stops the example servers at once, even while they wait, without
losing a reply: echo_server (blocking calls under an interrupt check) and
multiconn_server (a selector woken by its signal handler)."""
import os
import random
import signal
import socket
import threading
import time

SEED = int(os.environ.get("SL_TEST_SEED", random.randrange(1 << 30)))
# Sanitizer builds pay for their leak check at exit.
STOP_BOUND = 0.1 if "SL_EXAMPLES_BIN" not in os.environ else 1.0


def terminate(srv):
    """SIGTERM; returns (seconds until the process exited, exit code, stdout)."""
    sent = time.monotonic()
    srv.proc.send_signal(signal.SIGTERM)
    out, err = srv.proc.communicate(timeout=10)
    return time.monotonic() - sent, srv.proc.returncode, out, err


def test_echo_server_stops_at_once_with_an_idle_client(server):
    srv = server("echo_server")
    with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as c:
        c.sendall(b"hello")
        assert c.recv(16) == b"hello"
        time.sleep(0.2)  # now it waits for this idle client (5 s before the fix)
        took, code, _, err = terminate(srv)
        assert code == 0, err
        assert took < STOP_BOUND, f"exited {took:.3f} s after SIGTERM"
        assert c.recv(16) == b"", "the connection was closed"


def test_echo_server_stops_at_once_while_accepting(server):
    srv = server("echo_server")
    time.sleep(0.1)
    took, code, _, err = terminate(srv)
    assert code == 0, err
    assert took < STOP_BOUND, f"exited {took:.3f} s after SIGTERM"


class PingPong(threading.Thread):
    """One client: sends a message, reads its whole echo, again, until the
    server closes. `received` counts the echoed bytes, each checked."""

    def __init__(self, port, seed):
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.rng = random.Random(seed)
        self.received = 0
        self.error = None

    def run(self):
        try:
            while True:
                msg = self.rng.randbytes(self.rng.randint(1, 4000))
                try:
                    self.sock.sendall(msg)
                except (BrokenPipeError, ConnectionResetError):
                    return
                got = b""
                while len(got) < len(msg):
                    try:
                        chunk = self.sock.recv(len(msg) - len(got))
                    except ConnectionResetError:
                        chunk = b""  # the server closed with our next request unread
                    if not chunk:
                        assert msg.startswith(got), "a partial echo that is not our bytes"
                        self.received += len(got)
                        return
                    got += chunk
                assert got == msg, "an echo that is not what was sent"
                self.received += len(got)
        except Exception as e:  # reported by the test
            self.error = e
        finally:
            self.sock.close()


def test_multiconn_server_stops_mid_load_and_every_echo_arrives(server):
    srv = server("multiconn_server")
    clients = [PingPong(srv.port, SEED + i) for i in range(20)]
    for c in clients:
        c.start()
    time.sleep(0.4)
    took, code, out, err = terminate(srv)
    for c in clients:
        c.join(timeout=10)
        assert not c.is_alive(), "a client never saw the server close"
        assert c.error is None, f"seed {SEED}: {c.error!r}"
    assert code == 0, err
    assert took < STOP_BOUND, f"exited {took:.3f} s after SIGTERM"
    echoed = int(out.split("stopped: ")[1].split()[0])
    assert echoed > 0
    assert sum(c.received for c in clients) == echoed, f"seed {SEED}: the server echoed more than arrived"


def test_multiconn_server_stops_at_once_when_idle(server):
    srv = server("multiconn_server")
    idle = socket.create_connection(("127.0.0.1", srv.port), timeout=5)
    time.sleep(0.1)
    took, code, _, err = terminate(srv)
    idle.close()
    assert code == 0, err
    assert took < STOP_BOUND, f"exited {took:.3f} s after SIGTERM"
