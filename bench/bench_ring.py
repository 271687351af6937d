"""bench_ring: the echo server on sl_ring (io_uring, and its epoll fallback)
against plain epoll and tuned libuv, at 100 and 1,000 connections, and the
system calls per request.

Load: bench/echo_load, one 64-byte request in flight per connection, every
response verified. Servers alternate within each round, the order rotating
every round; reported: the server's CPU per request (from
/proc/PID/schedstat), medians, and the ratio as the median of per-round
ratios (load from other processes hits both runs of a round alike). System
calls per request: the median of three extra runs of each server under
`strace -c -f` (skipped with a message when strace is missing), not timed.
"""
import os
import pathlib
import re
import shutil
import statistics
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
BENCH = ROOT / "build" / "bench"
RUNS = int(os.environ.get("SL_BENCH_RUNS", "5"))
STRACE_RUNS = 3
ROUNDS = {100: 200_000, 1000: 200_000}
HOST_PORT = ["127.0.0.1", "0"]
RING = "sl_ring, io_uring"
SERVERS = {
    RING: ([str(BENCH / "echo_ring_server"), *HOST_PORT], {}),
    "sl_ring, epoll fallback": ([str(BENCH / "echo_ring_server"), *HOST_PORT], {"SOCKLOOP_RING": "epoll"}),
    "plain C epoll": ([str(BENCH / "echo_epoll_server"), *HOST_PORT], {}),
    "libuv, tuned": ([str(BENCH / "echo_uv_server"), *HOST_PORT], {}),
}


def cpu_ns(pid):
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0])


def one_run(cmd, env, conns, rounds, strace=None):
    """Server CPU µs per request (or, under strace, system calls per request)."""
    full_env = {**os.environ, **env}
    if strace:
        summary = strace
        cmd = ["strace", "-f", "-c", "-o", summary, *cmd]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=full_env)
    try:
        port = int(re.search(r":(\d+)\s*$", proc.stdout.readline()).group(1))
        pid = proc.pid
        before = cpu_ns(pid)
        subprocess.run([str(BENCH / "echo_load"), str(port), str(conns), str(rounds)],
                       capture_output=True, text=True, timeout=150, check=True)
        used = cpu_ns(pid) - before
    finally:
        if strace:
            # End the traced server, not strace, which then writes its summary.
            for task in pathlib.Path(f"/proc/{proc.pid}/task").iterdir():
                for child in (task / "children").read_text().split():
                    os.kill(int(child), 15)
        else:
            proc.terminate()
        proc.wait(timeout=20)
    if strace:
        text = pathlib.Path(summary).read_text()
        total = re.search(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)(?:\s+\d+)?\s+total", text, re.M)
        return int(total.group(1)) / rounds if total else float("nan")
    return used / 1000 / rounds


def main():
    servers = {n: v for n, v in SERVERS.items() if os.path.exists(v[0][0])}
    for n in SERVERS:
        if n not in servers:
            print(f"bench_ring: skipping {n}: {SERVERS[n][0][0]} not built", file=sys.stderr)
    if RING not in servers:
        return
    names = list(servers)
    for conns, rounds in ROUNDS.items():
        results = {n: [] for n in names}
        for run in range(RUNS):
            order = names[run % len(names):] + names[:run % len(names)]
            for n in order:
                cmd, env = servers[n]
                results[n].append(one_run(cmd, env, conns, rounds))
        med = {n: statistics.median(v) for n, v in results.items()}
        spread = {n: (max(v) - min(v)) / statistics.median(v) * 100 for n, v in results.items()}
        for n in names:
            print(f"bench_ring: {conns} conns: {n}: {med[n]:.2f} µs CPU/request ±{spread[n]:.0f}% "
                  f"(runs: {', '.join(f'{x:.2f}' for x in results[n])})", file=sys.stderr)
        for base, limit in (("plain C epoll", 0.9), ("libuv, tuned", 0.9), ("sl_ring, epoll fallback", None)):
            if base not in med:
                continue
            ratio = statistics.median(a / b for a, b in zip(results[RING], results[base]))
            target = "(reported)" if limit is None else f"≤ {limit}×"
            met = "–" if limit is None else ("yes" if ratio <= limit else "no")
            print(f"| echo server on sl_ring (io_uring), {conns} conns × 64 B, CPU per request vs {base} | "
                  f"{med[RING]:.2f} µs ±{spread[RING]:.0f}% | {med[base]:.2f} µs ±{spread[base]:.0f}% | "
                  f"{ratio:.2f}× | {target} | {met} |", flush=True)
    if not shutil.which("strace"):
        print("bench_ring: SKIP system calls per request: strace not installed", file=sys.stderr)
        return
    # The ring's count depends on how many requests a turn finds (0.03-0.08
    # over single runs of one build): the median of STRACE_RUNS runs.
    calls = {}
    for n in (RING, "plain C epoll"):
        if n in servers:
            cmd, env = servers[n]
            trace = str(BENCH / f"strace-{n.replace(' ', '_')}.txt")
            runs = [one_run(cmd, env, 100, 50_000, strace=trace) for _ in range(STRACE_RUNS)]
            print(f"bench_ring: {n}: system calls per request, runs: {', '.join(f'{x:.3f}' for x in runs)}",
                  file=sys.stderr)
            calls[n] = statistics.median(runs)
    base = calls.get("plain C epoll", float("nan"))
    met = "yes" if calls[RING] <= 0.1 else "no"
    print(f"| echo server on sl_ring (io_uring), 100 conns: system calls per request (strace -c -f, median of "
          f"{STRACE_RUNS} runs) | {calls[RING]:.3f} | {base:.3f} plain C epoll | {calls[RING] / base:.2f}× | "
          f"≤ 0.1 per request | {met} |", flush=True)


if __name__ == "__main__":
    main()
