#!/bin/sh
# make bench: runs every benchmark program in $1 and gathers their rows into
# bench/results/latest.md, then draws bench/results/latest.svg. Each program
# prints Markdown table rows on stdout
#   | workload | sockloop | baseline | ratio | target | met? |
# (medians of >= 5 alternating A/B runs, with their spread) and notes on stderr.
# The report ends with the rows whose target was missed and the reasons kept
# in bench/results/why.md (written by hand: a run cannot know why).
set -eu
bin=$1
out=bench/results/latest.md
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT
start=$(date +%s)
load=$(cut -d' ' -f1-3 /proc/loadavg)
# Each program is bounded, so a hang cannot stall `make bench`.
for b in "$bin"/bench_*; do
    [ -x "$b" ] || continue
    echo "== $(basename "$b")" >&2
    timeout 180 "$b" >>"$rows"
done
for py in bench/bench_*.py; do
    [ -f "$py" ] || continue
    echo "== $(basename "$py")" >&2
    SOCKLOOP_LIB="$(pwd)/build/lib/libsockloop.so" timeout 180 python3 "$py" >>"$rows"
done
elapsed=$(( $(date +%s) - start ))
cpu=$(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1)
mhz=$(sed -n 's/^cpu MHz\s*: //p' /proc/cpuinfo | head -n1)
if virt=$(systemd-detect-virt 2>/dev/null); then :
elif grep -q '^flags.* hypervisor' /proc/cpuinfo; then virt="virtual machine (hypervisor flag)"
else virt="none detected"; fi
grep -q '^flags.* hypervisor' /proc/cpuinfo && virt="$virt, under a hypervisor"
{
    echo "# sockloop benchmark results"
    echo
    echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), \`make bench\`, ${elapsed} s in all."
    echo
    echo "## Machine"
    echo
    echo "- CPU: $(nproc) logical CPUs, $cpu, ${mhz:-?} MHz; virtualisation: $virt"
    echo "- memory: $(free -g | awk '/Mem:/{print $2}') GiB; Linux $(uname -r) $(uname -m)"
    echo "- load average when the run began: $load (the machine is shared: other builds may run alongside)"
    echo "- $(${CC:-cc} --version | head -n1); $(rustc --version 2>/dev/null || echo 'rustc ?'); Python $(python3 -c 'import platform; print(platform.python_version())'); libuv $(pkg-config --modversion libuv 2>/dev/null || echo 'not installed')"
    echo
    echo "Each figure is the median of alternating sockloop/baseline runs in this one run; ± is the spread (max-min)/median."
    echo "Latency rows are given pinned (both processes on CPU 0) and unpinned: cross-CPU wake-ups dominate latency on a small machine."
    echo
    echo "![throughput by message size and echo server CPU per request](latest.svg)"
    echo
    echo "| workload | sockloop | baseline | ratio | target | met? |"
    echo "|---|---|---|---|---|---|"
    cat "$rows"
    echo
    echo "## Where a target is missed, why"
    echo
    if grep -q '| no |$' "$rows"; then
        grep '| no |$' "$rows" | cut -d'|' -f2 | sed 's/^ */- missed: /; s/ *$//'
    else
        echo "- every target was met in this run."
    fi
    echo
    [ -f bench/results/why.md ] && cat bench/results/why.md
} >"$out"
python3 bench/chart.py "$out" bench/results/latest.svg
cat "$out"
