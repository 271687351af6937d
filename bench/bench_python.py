"""bench_python: the Python binding against Python's own socket loops.

Rows (Markdown, on stdout; see bench/run.sh): medians of 5 alternating runs.
- 1 MiB messages, one way: sockloop.send_all/recv_exact vs sock.sendall and a
  recv_into loop (the kernel copy dominates: parity expected);
- 64-byte messages, one way: the same per message (the call overhead dominates).
Each run forks a peer process, so the two sides never share a GIL.
"""
import os
import pathlib
import socket
import statistics
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bindings" / "python"))
os.environ.setdefault("SOCKLOOP_LIB", str(ROOT / "build" / "lib" / "libsockloop.so"))
import sockloop  # noqa: E402

RUNS = 5


def py_recv_exact(sock, view):
    got, n = 0, len(view)
    while got < n:
        k = sock.recv_into(view[got:])
        if not k:
            raise EOFError
        got += k


def one_way(impl, size, count):
    """Seconds to move `count` messages of `size` bytes from a forked sender."""
    a, b = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        b.close()
        msg = b"m" * size
        send = (lambda: sockloop.send_all(a, msg)) if impl == "sockloop" else (lambda: a.sendall(msg))
        for _ in range(count):
            send()
        os._exit(0)
    a.close()
    buf = bytearray(size)
    view = memoryview(buf)
    t0 = time.perf_counter()
    if impl == "sockloop":
        for _ in range(count):
            sockloop.recv_exact(b, view)
    else:
        for _ in range(count):
            py_recv_exact(b, view)
    elapsed = time.perf_counter() - t0
    b.close()
    _, status = os.waitpid(pid, 0)
    assert status == 0
    return elapsed


def compare(label, size, count, unit_scale, unit):
    sl, py = [], []
    one_way("sockloop", size, max(1, count // 10))  # warm-up
    for _ in range(RUNS):
        sl.append(one_way("sockloop", size, count))
        py.append(one_way("python", size, count))
    s, p = statistics.median(sl), statistics.median(py)
    spread = lambda v: (max(v) - min(v)) / statistics.median(v) * 100
    rate = lambda t: count * unit_scale / t
    ratio = p / s
    print(f"| {label} | {rate(s):,.1f} {unit} ±{spread(sl):.0f}% | {rate(p):,.1f} {unit} ±{spread(py):.0f}% "
          f"(Python sendall/recv_into) | {ratio:.2f}× | (reported) | – |", flush=True)
    print(f"{label}: sockloop {s:.3f}s python {p:.3f}s", file=sys.stderr)


if __name__ == "__main__":
    compare("Python binding: 1 MiB messages one way (Unix socket)", 1 << 20, 512, 1 / 1024, "GiB/s")
    compare("Python binding: 64 B messages one way (Unix socket)", 64, 200_000, 1e-3, "k msg/s")
