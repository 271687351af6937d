#!/bin/sh
# make demo: a short tour of the examples. Servers start in the background on
# loopback, clients talk to them, and everything is stopped at the end.
set -eu
bin=$1
port=${SL_DEMO_PORT:-$((20000 + $$ % 20000))}
pids=""
cleanup() { for p in $pids; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM

wait_for_port() { # the server prints its "listening" line once bound
    i=0
    while ! grep -q listening "$1" 2>/dev/null; do
        i=$((i + 1)); [ $i -lt 100 ] || { echo "demo: server did not start"; cat "$1"; exit 1; }
        sleep 0.05
    done
}

echo "== greet_server / greet_client: length-prefixed messages on 127.0.0.1:$port"
log=$(mktemp)
"$bin/greet_server" 127.0.0.1 "$port" 2 >"$log" 2>&1 &
pids="$pids $!"
wait_for_port "$log"
"$bin/greet_client" 127.0.0.1 "$port" world
"$bin/greet_client" 127.0.0.1 "$port" "sockloop reader"
wait
cat "$log"
rm -f "$log"
echo "== demo finished"
