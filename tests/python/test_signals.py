"""Python's signal behaviour (PEP 475) in every blocking call of the package.

For each call, with timeout 2 s and None: a SIGALRM 0.2 s in runs its handler
at once (not when the call ends); a handler that raises aborts the call with
its exception, carrying `.done` (and `.partial` for calls that return data);
a handler that returns lets the call go on and finish. A peer completes every
call 0.45 s in, so nothing here can hang. Python runs handlers in the main
thread only, and so does the package (other threads keep the C default).
"""
import asyncio
import os
import pathlib
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

import pytest

import sockloop
from sockloop import _signals

pytestmark = pytest.mark.skipif(not _signals.installed,
                                reason="the loaded libsockloop has no sl_set_interrupt_check")

ALARM = 0.2      # when the signal comes
COMPLETE = 0.45  # when the peer lets the call finish
# The handler must run long before the call would end by itself; measured
# latencies are printed (-s) and are a few ms on an idle machine.
LATENCY_BOUND = 0.15
LATENCIES = []


class Stop(Exception):
    pass


def later(delay, fn):
    t = threading.Timer(delay, fn)
    t.daemon = True
    t.start()
    return t


def drain(sock):
    sock.setblocking(False)
    try:
        while sock.recv(1 << 20):
            pass
    except BlockingIOError:
        pass


def fill(sock):
    """Fills sock's send path until it would block."""
    sock.setblocking(False)
    try:
        while True:
            sock.send(b"f" * 65536)
    except BlockingIOError:
        pass
    sock.setblocking(True)


def drain_forever(sock, stop):
    def run():
        try:
            sock.settimeout(0.05)
        except OSError:
            return  # the case is over and closed it already
        while not stop.is_set():
            try:
                if not sock.recv(1 << 20):
                    return
            except (socket.timeout, OSError):
                continue
    th = threading.Thread(target=run, daemon=True)
    th.start()
    return th


# Each case: setup(timeout) -> (call, complete, check_partial), run in the main thread.
def case_recv_exact(timeout):
    a, b = socket.socketpair()
    a.sendall(b"abc")
    return (lambda: sockloop.recv_exact(b, 10, timeout), lambda: a.sendall(b"defghij"),
            lambda err: err.done == 3 and err.partial == b"abc", (a, b))


def case_recv_frame(timeout):
    a, b = socket.socketpair()
    a.sendall(struct.pack(">I", 5) + b"ab")
    return (lambda: sockloop.recv_frame(b, 64, timeout), lambda: a.sendall(b"cde"),
            lambda err: err.done == 6 and err.partial == b"ab", (a, b))


def case_send_all(timeout):
    a, b = socket.socketpair()
    stop = threading.Event()
    return (lambda: sockloop.send_all(a, b"s" * (8 << 20), timeout), lambda: drain_forever(b, stop),
            lambda err: err.done > 0, (a, b), stop)


def case_send_frame(timeout):
    a, b = socket.socketpair()
    stop = threading.Event()
    return (lambda: sockloop.send_frame(a, b"s" * (8 << 20), timeout), lambda: drain_forever(b, stop),
            lambda err: err.done > 0, (a, b), stop)


def case_wait_readable(timeout):
    a, b = socket.socketpair()
    return (lambda: sockloop.wait_readable(b, timeout), lambda: a.send(b"x"), None, (a, b))


def case_wait_writable(timeout):
    a, b = socket.socketpair()
    fill(a)
    return (lambda: sockloop.wait_writable(a, timeout), lambda: drain(b), None, (a, b))


def case_select(timeout):
    a, b = socket.socketpair()
    return (lambda: sockloop.select([b], [], [], timeout), lambda: a.send(b"x"), None, (a, b))


def case_selector(timeout):
    a, b = socket.socketpair()
    sel = sockloop.Selector()
    sel.register(b, sockloop.EVENT_READ)
    return (lambda: sel.select(timeout), lambda: a.send(b"x"), None, (a, b), None, sel)


def case_conn_read_frame(timeout):
    a, b = socket.socketpair()
    conn = sockloop.Conn(b)
    a.sendall(struct.pack(">I", 5) + b"ab")
    # Conn keeps the unfinished frame: .done counts it, .partial is b"" (nothing taken).
    return (lambda: conn.read_frame(timeout), lambda: a.sendall(b"cde"),
            lambda err: err.done == 6 and err.partial == b"", (a, b), None, conn)


def case_conn_read_until(timeout):
    a, b = socket.socketpair()
    conn = sockloop.Conn(b)
    a.sendall(b"par")
    return (lambda: conn.read_until(b"\n", timeout), lambda: a.sendall(b"tial\n"),
            lambda err: err.done == 3 and err.partial == b"", (a, b), None, conn)


def case_conn_read_exact(timeout):
    a, b = socket.socketpair()
    conn = sockloop.Conn(b)
    a.sendall(b"12")
    return (lambda: conn.read_exact(5, timeout), lambda: a.sendall(b"345"),
            lambda err: err.done == 2, (a, b), None, conn)


def case_conn_write_frame(timeout):
    a, b = socket.socketpair()
    conn = sockloop.Conn(a)
    stop = threading.Event()
    return (lambda: conn.write_frame(b"w" * (8 << 20), timeout), lambda: drain_forever(b, stop),
            lambda err: err.done > 0, (a, b), stop, conn)


def case_accept(timeout):
    listener = sockloop.net.tcp_listen("127.0.0.1", 0)
    port = sockloop.net.local_port(listener)
    peers = []
    return (lambda: sockloop.net.accept(listener, timeout)[0].close(),
            lambda: peers.append(socket.create_connection(("127.0.0.1", port))), None, (listener,), None,
            peers)


def case_close_graceful(timeout):
    a, b = socket.socketpair()
    return (lambda: sockloop.net.close_graceful(a, timeout), lambda: b.shutdown(socket.SHUT_WR), None, (b,))


CASES = {name[5:]: fn for name, fn in globals().items() if name.startswith("case_")}


def run_case(name, timeout, raising):
    setup = CASES[name](timeout)
    call, complete, check, socks = setup[:4]
    stop = setup[4] if len(setup) > 4 else None
    ran = []

    def handler(signum, frame):
        ran.append(time.monotonic())
        if raising:
            raise Stop()

    old = signal.signal(signal.SIGALRM, handler)
    start = time.monotonic()
    completer = later(COMPLETE, complete)
    signal.setitimer(signal.ITIMER_REAL, ALARM)
    try:
        if raising:
            with pytest.raises(Stop) as info:
                call()
            ended = time.monotonic()
            assert hasattr(info.value, "done"), "the handler's exception carries .done"
            if check is not None:
                assert check(info.value), (info.value.done, getattr(info.value, "partial", None))
            assert ended - start < COMPLETE, "the raising handler ended the call before the peer did"
        else:
            call()  # finishes once the peer completes it: the handler did not abort it
            ended = time.monotonic()
            assert ended - start >= COMPLETE - 0.05
        assert len(ran) == 1
        latency = ran[0] - (start + ALARM)
        LATENCIES.append((name, timeout, raising, latency))
        print(f"{name} timeout={timeout} raising={raising}: handler {latency * 1000:.1f} ms after the signal")
        assert latency < LATENCY_BOUND, f"handler ran {latency:.3f} s after the signal"
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        completer.cancel()  # not needed once the call is over
        completer.join()
        if stop is not None:
            stop.set()
        for s in socks:
            s.close()
        for extra in setup[5:]:
            if hasattr(extra, "close"):
                extra.close()
            elif isinstance(extra, list):
                for s in extra:
                    s.close()


@pytest.mark.parametrize("raising", [True, False], ids=["raising", "returning"])
@pytest.mark.parametrize("timeout", [2, None], ids=["2s", "None"])
@pytest.mark.parametrize("name", sorted(CASES))
def test_a_signal_runs_its_handler_at_once(name, timeout, raising):
    run_case(name, timeout, raising)


def test_a_returning_handler_leaves_the_timeout_as_it_was():
    a, b = socket.socketpair()
    ran = []
    old = signal.signal(signal.SIGALRM, lambda *_: ran.append(time.monotonic()))
    start = time.monotonic()
    signal.setitimer(signal.ITIMER_REAL, ALARM)
    try:
        with pytest.raises(TimeoutError) as info:
            sockloop.recv_exact(b, 4, timeout=1.0)
        elapsed = time.monotonic() - start
        assert 1.0 <= elapsed < 1.5 and len(ran) == 1 and ran[0] - start < 0.5
        assert info.value.done == 0 and info.value.partial == b""
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        a.close()
        b.close()


def test_conn_resumes_after_an_interrupted_read():
    a, b = socket.socketpair()
    conn = sockloop.Conn(b)
    a.sendall(struct.pack(">I", 5) + b"ab")
    old = signal.signal(signal.SIGALRM, lambda *_: (_ for _ in ()).throw(Stop()))
    signal.setitimer(signal.ITIMER_REAL, 0.05)
    try:
        with pytest.raises(Stop):
            conn.read_frame(timeout=None)
        a.sendall(b"cde")
        assert conn.read_frame(timeout=1) == b"abcde"  # nothing lost
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
        conn.close()
        a.close()
        b.close()


def test_ctrl_c_is_keyboardinterrupt_with_done():
    a, b = socket.socketpair()
    a.sendall(b"xy")
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    timer = later(0.2, lambda: os.kill(os.getpid(), signal.SIGINT))
    start = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt) as info:
            sockloop.recv_exact(b, 10, timeout=None)
        assert time.monotonic() - start < 1.0
        assert info.value.done == 2 and info.value.partial == b"xy"
    finally:
        timer.join()
        signal.signal(signal.SIGINT, old)
        a.close()
        b.close()


ASYNCIO_PROGRAM = r"""
import asyncio, selectors, sys, time
import sockloop
sel = sockloop.Selector() if sys.argv[1] == "sockloop" else selectors.DefaultSelector()
async def main():
    print("ready", flush=True)
    await asyncio.sleep(30)
try:
    with asyncio.Runner(loop_factory=lambda: asyncio.SelectorEventLoop(sel)) as runner:
        runner.run(main())
except KeyboardInterrupt:
    print("interrupted", time.monotonic(), flush=True)
"""


@pytest.mark.skipif(sys.version_info < (3, 11), reason="asyncio.Runner")
def test_ctrl_c_under_asyncio_is_as_prompt_as_with_default_selector(tmp_path):
    script = tmp_path / "loop.py"
    script.write_text(ASYNCIO_PROGRAM)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    delays = {}
    for kind in ("selectors", "sockloop"):
        proc = subprocess.Popen([sys.executable, str(script), kind], stdout=subprocess.PIPE, text=True, env=env)
        try:
            assert proc.stdout.readline().strip() == "ready"
            time.sleep(0.3)
            sent = time.monotonic()
            proc.send_signal(signal.SIGINT)
            line = proc.stdout.readline().split()
            assert line and line[0] == "interrupted", line
            delays[kind] = float(line[1]) - sent
            assert proc.wait(5) == 0
        finally:
            proc.kill()
            proc.wait()
    print("Ctrl-C to KeyboardInterrupt under asyncio:", {k: f"{v * 1000:.1f} ms" for k, v in delays.items()})
    assert delays["sockloop"] < max(0.25, 3 * delays["selectors"])
