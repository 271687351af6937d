#!/bin/sh
# make bench: runs every benchmark program in $1 and gathers their rows into
# bench/results/latest.md. Each program prints Markdown table rows on stdout
#   | workload | sockloop | baseline | ratio | target | met? |
# (medians of >= 5 alternating A/B runs, with their spread) and notes on stderr.
set -eu
bin=$1
out=bench/results/latest.md
rows=$(mktemp)
trap 'rm -f "$rows"' EXIT
for b in "$bin"/bench_*; do
    [ -x "$b" ] || continue
    echo "== $(basename "$b")" >&2
    "$b" >>"$rows"
done
for py in bench/bench_*.py; do
    [ -f "$py" ] || continue
    echo "== $(basename "$py")" >&2
    SOCKLOOP_LIB="$(pwd)/build/lib/libsockloop.so" python3 "$py" >>"$rows"
done
{
    echo "# sockloop benchmark results"
    echo
    echo "Run: $(date -u '+%Y-%m-%d %H:%M UTC'), \`make bench\`."
    echo "Machine: $(nproc) CPUs ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -n1)), $(free -g | awk '/Mem:/{print $2}') GiB RAM, Linux $(uname -r)."
    echo "Each figure is the median of alternating sockloop/baseline runs in this one run; ± is the spread (max-min)/median."
    echo
    echo "| workload | sockloop | baseline | ratio | target | met? |"
    echo "|---|---|---|---|---|---|"
    cat "$rows"
} >"$out"
cat "$out"
