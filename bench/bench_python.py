"""bench_python: the Python binding against Python's own socket loops.

Rows (Markdown, on stdout; see bench/run.sh): medians of 5 alternating runs.
- 1 MiB messages, one way: sockloop.send_all/recv_exact vs sock.sendall and a
  recv_into loop (the kernel copy dominates: parity expected);
- 64-byte messages, one way: the same per message (the call overhead dominates);
- 64-byte frames, one way: sockloop.Conn (queue_frames/flush in batches of 256,
  fill/frames) vs a pure-Python length-prefix loop with 64 KiB buffers
  (struct, sendall, recv_into); both build each frame's payload in Python;
- the sweep for the chart: 64 B to 1 MiB messages over loopback TCP, rows
  "sweep SIZE (Python)": the binding vs Python sendall/recv_into;
- per-call costs: Conn.read_frame of a 64-byte frame (target <= 3 us, and
  independent of max_message), Selector.select(0) against
  selectors.DefaultSelector at 10, 1,000 and 10,000 fds (target <= 1.2x), and
  get_map() lookups (O(1)). `python3 bench/bench_python.py api` runs only these.
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


def rows_of_ratios(label, ours, theirs, rounds=21):
    """Alternating timed rounds of two callables: medians, and the median of
    the per-round ratios (ours / theirs), which a loaded machine skews least."""
    a, b, ratios = [], [], []
    for _ in range(rounds):
        x, y = ours(), theirs()
        a.append(x)
        b.append(y)
        ratios.append(x / y)
    return statistics.median(a), statistics.median(b), statistics.median(ratios)


def raise_fd_limit(need):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < need:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(need, soft)), hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0] >= need


def selector_rows():
    """Selector.select(0) against selectors.DefaultSelector with N registered
    fds, none ready (the poll a busy event loop makes every turn), and
    get_map() lookups."""
    import selectors
    import timeit
    lookups = {}
    for n in (10, 1000, 10000):
        if not raise_fd_limit(n + 100):
            print(f"| Python Selector.select(0), {n:,} fds | – | – | – | ≤ 1.2× | skipped: fd limit |", flush=True)
            continue
        pairs = [socket.socketpair() for _ in range(n // 2)]
        socks = [s for p in pairs for s in p]
        std, ours = selectors.DefaultSelector(), sockloop.Selector()
        for s in socks:
            std.register(s, selectors.EVENT_READ)
            ours.register(s, selectors.EVENT_READ)
        k = 20000
        o, t, r = rows_of_ratios("select", lambda: timeit.timeit(lambda: ours.select(0), number=k) / k,
                                 lambda: timeit.timeit(lambda: std.select(0), number=k) / k)
        print(f"| Python `Selector.select(0)`, {n:,} fds registered, none ready, vs `selectors.DefaultSelector` "
              f"(median of 21 alternating rounds) | {o * 1e6:.2f} µs | {t * 1e6:.2f} µs | {r:.2f}× | ≤ 1.2× | "
              f"{'yes' if r <= 1.2 else 'no'} |", flush=True)
        probe = socks[len(socks) // 2]
        om, sm = ours.get_map(), std.get_map()
        k = 200000
        o, t, r = rows_of_ratios("map", lambda: timeit.timeit(lambda: om[probe], number=k) / k,
                                 lambda: timeit.timeit(lambda: sm[probe], number=k) / k, rounds=9)
        lookups[n] = (o, t, r)
        std.close()
        ours.close()
        for s in socks:
            s.close()
    if 10 in lookups and 10000 in lookups:
        o10, o10k = lookups[10][0], lookups[10000][0]
        ratio = lookups[10000][2]
        print(f"| Python `Selector.get_map()[sock]` at 10,000 fds (a live mapping over the key dict; at 10 fds "
              f"{o10 * 1e6:.2f} µs) vs `DefaultSelector` (median of 9 alternating rounds) | {o10k * 1e6:.2f} µs | "
              f"{lookups[10000][1] * 1e6:.2f} µs | {ratio:.2f}× | O(1): within 1.5× of the stdlib's dict lookup | "
              f"{'yes' if ratio <= 1.5 else 'no'} |", flush=True)


def read_frames(impl, count):
    """Seconds to read `count` 64-byte frames one call each, sent by a forked writer."""
    a, b = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        b.close()
        blob = (HEAD.pack(FRAME) + b"f" * FRAME) * 1024
        for _ in range(count // 1024):
            a.sendall(blob)
        os._exit(0)
    a.close()
    t0 = time.perf_counter()
    if impl == "sockloop":
        conn = sockloop.Conn(b)  # max_message 1 MiB: the per-call cost must not depend on it
        for _ in range(count // 1024 * 1024):
            conn.read_frame(timeout=5)
        conn.close()
    else:
        f = b.makefile("rb")
        unpack, read = HEAD.unpack, f.read
        for _ in range(count // 1024 * 1024):
            (n,) = unpack(read(4))
            read(n)
        f.close()
    elapsed = time.perf_counter() - t0
    b.close()
    _, status = os.waitpid(pid, 0)
    assert status == 0
    return elapsed / (count // 1024 * 1024)


def read_frame_row(count=102_400):
    read_frames("sockloop", count // 10)  # warm-up
    o, t, r = rows_of_ratios("read_frame", lambda: read_frames("sockloop", count),
                             lambda: read_frames("python", count), rounds=5)
    print(f"| Python `Conn.read_frame()` of a 64-byte frame, one call per frame (max_message 1 MiB), vs a "
          f"pure-Python `makefile` + `struct` reader | {o * 1e6:.2f} µs | {t * 1e6:.2f} µs | {r:.2f}× | "
          f"≤ 3 µs | {'yes' if o <= 3e-6 else 'no'} |", flush=True)


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "api":  # only the per-call rows (about 30 s)
        read_frame_row()
        selector_rows()
        sys.exit(0)
    read_frame_row()
    selector_rows()
    compare("Python binding: 1 MiB messages one way (Unix socket)", 1 << 20, 512, 1 / 1024, "GiB/s")
    compare("Python binding: 64 B messages one way (Unix socket)", 64, 200_000, 1e-3, "k msg/s")
    compare_frames(300_000)
    for name, size, count in (("64 B", 64, 150_000), ("1 KiB", 1024, 100_000), ("16 KiB", 16 << 10, 16384),
                              ("256 KiB", 256 << 10, 2048), ("1 MiB", 1 << 20, 512)):
        compare(f"sweep {name} (Python): {count} messages one way, TCP loopback, sockloop.send_all/recv_exact "
                "vs Python sendall/recv_into", size, count, size / (1 << 20), "MiB/s", tcp_pair, "")
