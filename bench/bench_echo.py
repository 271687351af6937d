"""bench_echo: an echo server under load, sockloop against plain epoll, libuv
and Python selectors.

Load: bench/echo_load with 100 connections, one 64-byte request in flight on
each, 200,000 round trips, every response verified. Each server is measured
RUNS times, the servers alternating; reported: requests/s and the server's CPU
time per request (from /proc/PID/schedstat, in ns), medians with spread. The
ratio is the median of the per-run ratios (sockloop's run against the
baseline's run of the same round), so load from other processes, which hits
both runs of a round alike, cancels out. The load saturates both cores, so
CPU per request is the sharper figure; almost all of it is kernel time (the
split into user and system time from /proc/PID/stat goes to stderr).
"""
import os
import pathlib
import re
import statistics
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]
BENCH = ROOT / "build" / "bench"
EXAMPLES = ROOT / "build" / "examples"
RUNS, CONNS, ROUNDS = 7, 100, 200_000

HOST_PORT = ["127.0.0.1", "0"]
# name: the server's command line; each prints "listening on HOST:PORT".
SERVERS = {
    "sockloop multiconn_server (sl_selector + sl_conn)": [str(EXAMPLES / "multiconn_server"), *HOST_PORT],
    "plain C epoll": [str(BENCH / "echo_epoll_server"), *HOST_PORT],
    "libuv, tuned (buffer per connection, uv_try_write)": [str(BENCH / "echo_uv_server"), *HOST_PORT],
    "libuv, as its echo example (malloc per read)": [str(BENCH / "echo_uv_server"), *HOST_PORT, "naive"],
    "Python selectors": [sys.executable, str(ROOT / "bench" / "echo_selectors_server.py"), *HOST_PORT],
}


def cpu_ns(pid):
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0])


def user_sys_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]), int(fields[12])


def one_run(cmd):
    """(requests/s, server CPU µs per request, user ticks, system ticks)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        port = int(re.search(r":(\d+)\s*$", proc.stdout.readline()).group(1))
        before, ticks = cpu_ns(proc.pid), user_sys_ticks(proc.pid)
        out = subprocess.run([str(BENCH / "echo_load"), str(port), str(CONNS), str(ROUNDS)],
                             capture_output=True, text=True, timeout=120, check=True).stdout
        used = cpu_ns(proc.pid) - before
        user, system = (b - a for a, b in zip(ticks, user_sys_ticks(proc.pid)))
        seconds = float(out.split()[3])
        return ROUNDS / seconds, used / 1000 / ROUNDS, user, system
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main():
    servers = {name: cmd for name, cmd in SERVERS.items() if all(os.path.exists(a) for a in cmd if a.startswith("/"))}
    for name in SERVERS:
        if name not in servers:
            print(f"bench_echo: skipping {name}: {SERVERS[name][0]} not built", file=sys.stderr)
    results = {name: [] for name in servers}
    for run in range(RUNS):
        for name, cmd in servers.items():
            results[name].append(one_run(cmd))
        print(f"bench_echo: run {run + 1} done", file=sys.stderr)
    med = {n: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v),
               (max(r[1] for r in v) - min(r[1] for r in v)) / statistics.median(r[1] for r in v) * 100)
           for n, v in results.items()}
    hz = os.sysconf("SC_CLK_TCK")
    for name, (rps, cpu, spread) in med.items():
        user = sum(r[2] for r in results[name]) / hz / (RUNS * ROUNDS) * 1e6
        system = sum(r[3] for r in results[name]) / hz / (RUNS * ROUNDS) * 1e6
        print(f"bench_echo: {name}: {rps:,.0f} req/s, {cpu:.2f} µs CPU/request ±{spread:.0f}% "
              f"(mean user {user:.2f} µs + system {system:.2f} µs)", file=sys.stderr)
    ours = "sockloop multiconn_server (sl_selector + sl_conn)"
    if ours not in med:
        return
    rps, cpu, spread = med[ours]
    for base, target, limit in (("plain C epoll", "≤ 1.1×", 1.1),
                                ("libuv, tuned (buffer per connection, uv_try_write)", "≤ 1.0× (≤ libuv)", 1.0),
                                ("libuv, as its echo example (malloc per read)", "(reported)", None),
                                ("Python selectors", "(reported)", None)):
        if base not in med:
            continue
        b_rps, b_cpu, b_spread = med[base]
        ratio = statistics.median(a[1] / b[1] for a, b in zip(results[ours], results[base]))
        met = "–" if limit is None else ("yes" if ratio <= limit else "no")
        print(f"| echo server, 100 conns × 64 B, CPU per request vs {base} | {cpu:.2f} µs ±{spread:.0f}% "
              f"({rps / 1000:.0f}k req/s) | {b_cpu:.2f} µs ±{b_spread:.0f}% ({b_rps / 1000:.0f}k req/s) | "
              f"{ratio:.2f}× | {target} | {met} |", flush=True)


if __name__ == "__main__":
    main()
