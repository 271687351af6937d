"""bench_python: the Python binding against Python's own socket loops.

Rows (Markdown, on stdout; see bench/run.sh): medians of 5 alternating runs.
- 1 MiB messages, one way: sockloop.send_all/recv_exact vs sock.sendall and a
  recv_into loop (the kernel copy dominates: parity expected);
- 64-byte messages, one way: the same per message (the call overhead dominates);
- 64-byte frames, one way: sockloop.Conn (queue_frames/flush in batches of 256,
  fill/frames) vs a pure-Python length-prefix loop with 64 KiB buffers
  (struct, sendall, recv_into); both build each frame's payload in Python;
- the sweep for the chart: 64 B to 1 MiB messages over loopback TCP, rows
  "sweep SIZE (Python)": the binding vs Python sendall/recv_into.
Each run forks a peer process, so the two sides never share a GIL.
"""
import os
import pathlib
import select
import socket
import statistics
import struct
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


def tcp_pair():
    """A connected loopback TCP pair (sender, receiver)."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        a = socket.create_connection(listener.getsockname())
        b, _ = listener.accept()
    return a, b


def one_way(impl, size, count, pair=socket.socketpair):
    """Seconds to move `count` messages of `size` bytes from a forked sender."""
    a, b = pair()
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


FRAME = 64
FRAME_BUF = 64 * 1024
HEAD = struct.Struct(">I")


def conn_frames(count):
    """Seconds to move `count` 64-byte frames through sockloop.Conn both ways."""
    a, b = tcp_pair()
    pid = os.fork()
    if pid == 0:
        b.close()
        with sockloop.Conn(a, FRAME_BUF) as w:
            payload = b"f" * FRAME
            batch = []
            for i in range(count):
                batch.append(payload)
                if len(batch) == 256 or i == count - 1:
                    pending = w.queue_frames(batch)
                    batch.clear()
                    if pending >= FRAME_BUF:
                        while w.flush() >= FRAME_BUF // 2:
                            select.select([], [a], [], 10)
            while w.flush():
                select.select([], [a], [], 10)
        a.close()
        os._exit(0)
    a.close()
    got = 0
    t0 = time.perf_counter()
    with sockloop.Conn(b, FRAME_BUF) as r:
        while True:
            try:
                if r.fill() == 0:
                    break
            except BlockingIOError:
                select.select([b], [], [], 10)
                continue
            for frame in r.frames():
                got += len(frame) == FRAME
    elapsed = time.perf_counter() - t0
    b.close()
    _, status = os.waitpid(pid, 0)
    assert status == 0 and got == count, (status, got)
    return elapsed


def python_frames(count):
    """The same with a pure-Python length-prefix loop and 64 KiB buffers."""
    a, b = tcp_pair()
    pid = os.fork()
    if pid == 0:
        b.close()
        out = bytearray()
        payload = b"f" * FRAME
        for _ in range(count):
            out += HEAD.pack(FRAME)
            out += payload
            if len(out) >= FRAME_BUF:
                a.sendall(out)
                out.clear()
        a.sendall(out)
        a.close()
        os._exit(0)
    a.close()
    got = 0
    buf = bytearray(FRAME_BUF + 4 + FRAME)
    view = memoryview(buf)
    have = 0
    t0 = time.perf_counter()
    while True:
        n = b.recv_into(view[have:])
        if not n:
            break
        have += n
        at = 0
        while have - at >= 4:
            (length,) = HEAD.unpack_from(buf, at)
            if have - at - 4 < length:
                break
            frame = bytes(view[at + 4:at + 4 + length])
            got += len(frame) == FRAME
            at += 4 + length
        buf[:have - at] = buf[at:have]
        have -= at
    elapsed = time.perf_counter() - t0
    b.close()
    _, status = os.waitpid(pid, 0)
    assert status == 0 and got == count, (status, got)
    return elapsed


def compare_frames(count):
    sl, py = [], []
    conn_frames(count // 10)  # warm-up
    for _ in range(RUNS):
        sl.append(conn_frames(count))
        py.append(python_frames(count))
    s, p = statistics.median(sl), statistics.median(py)
    spread = lambda v: (max(v) - min(v)) / statistics.median(v) * 100
    print(f"| Python binding: {count:,} 64-byte frames one way, TCP loopback: sockloop.Conn queue_frames/flush, "
          f"fill/frames (batches of 256) vs pure-Python length-prefix loop (64 KiB buffers) | {count / s / 1e3:,.0f} k frames/s "
          f"±{spread(sl):.0f}% | {count / p / 1e3:,.0f} k frames/s ±{spread(py):.0f}% | {p / s:.2f}× | "
          f"≥ 1.25× (the binding wins clearly where the loop is the cost) | {'yes' if p / s >= 1.25 else 'no'} |",
          flush=True)


def compare(label, size, count, unit_scale, unit, pair=socket.socketpair, baseline="Python sendall/recv_into"):
    sl, py = [], []
    one_way("sockloop", size, max(1, count // 10), pair)  # warm-up
    for _ in range(RUNS):
        sl.append(one_way("sockloop", size, count, pair))
        py.append(one_way("python", size, count, pair))
    s, p = statistics.median(sl), statistics.median(py)
    spread = lambda v: (max(v) - min(v)) / statistics.median(v) * 100
    rate = lambda t: count * unit_scale / t
    ratio = p / s
    print(f"| {label} | {rate(s):,.1f} {unit} ±{spread(sl):.0f}% | {rate(p):,.1f} {unit} ±{spread(py):.0f}% "
          f"{f'({baseline})' if baseline else ''} | {ratio:.2f}× | (reported) | – |", flush=True)
    print(f"{label}: sockloop {s:.3f}s python {p:.3f}s", file=sys.stderr)


if __name__ == "__main__":
    compare("Python binding: 1 MiB messages one way (Unix socket)", 1 << 20, 512, 1 / 1024, "GiB/s")
    compare("Python binding: 64 B messages one way (Unix socket)", 64, 200_000, 1e-3, "k msg/s")
    compare_frames(300_000)
    for name, size, count in (("64 B", 64, 150_000), ("1 KiB", 1024, 100_000), ("16 KiB", 16 << 10, 16384),
                              ("256 KiB", 256 << 10, 2048), ("1 MiB", 1 << 20, 512)):
        compare(f"sweep {name} (Python): {count} messages one way, TCP loopback, sockloop.send_all/recv_exact "
                "vs Python sendall/recv_into", size, count, size / (1 << 20), "MiB/s", tcp_pair, "")
