#!/bin/sh
# make demo: a short tour of the examples. Servers start in the background on
# loopback (ephemeral ports), the clients run, their output is shown, and
# everything is stopped at the end.
set -eu
bin=$1
logs=$(mktemp -d)
pids=""
cleanup() {
    for p in $pids; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$logs"
}
trap cleanup EXIT INT TERM

# start NAME ARGS...: runs a server, waits for its "listening on HOST:PORT"
# line and sets $port.
start() {
    name=$1; shift
    "$bin/$name" "$@" >"$logs/$name.out" 2>&1 &
    pids="$pids $!"
    i=0
    until port=$(sed -n 's/^listening on .*:\([0-9]*\)$/\1/p' "$logs/$name.out" | head -n1) && [ -n "$port" ]; do
        i=$((i + 1)); [ $i -lt 100 ] || { echo "demo: $name did not start"; cat "$logs/$name.out"; exit 1; }
        sleep 0.05
    done
}
section() { printf '\n== %s\n' "$*"; }

section "echo_server + echo_client: one message, then lines from stdin"
start echo_server 127.0.0.1 0
"$bin/echo_client" 127.0.0.1 "$port" "Hello, world"
printf 'first line\nsecond line\n' | "$bin/echo_client" 127.0.0.1 "$port"

section "threaded_echo_server: three clients at once"
start threaded_echo_server 127.0.0.1 0
clients=""
for i in 1 2 3; do "$bin/echo_client" 127.0.0.1 "$port" "client $i" & clients="$clients $!"; done
for c in $clients; do wait "$c"; done

section "multiconn_server + multiconn_client (sl_selector + sl_conn), 3 connections"
start multiconn_server 127.0.0.1 0
"$bin/multiconn_client" 127.0.0.1 "$port" 3

section "app_server + app_client: Real Python's JSON-header protocol"
start app_server 127.0.0.1 0
"$bin/app_client" 127.0.0.1 "$port" search morpheus | tail -n1
"$bin/app_client" 127.0.0.1 "$port" search ring | tail -n1
"$bin/app_client" 127.0.0.1 "$port" search nobody | tail -n1
"$bin/app_client" 127.0.0.1 "$port" double 42 | tail -n1

section "howto_mysocket: fixed-length, then length-prefixed messages"
"$bin/howto_mysocket"

section "byteorder_demo: the HOWTO's binary data"
"$bin/byteorder_demo"

section "buffer_sizes: what the kernel grants for SO_SNDBUF / SO_RCVBUF"
"$bin/buffer_sizes"

section "http_get against python3 -m http.server"
echo "Hello from a local web server" >"$logs/index.txt"
python3 -m http.server 0 --bind 127.0.0.1 --directory "$logs" >"$logs/http.out" 2>&1 &
pids="$pids $!"
i=0
until port=$(sed -n 's/.* port \([0-9]*\).*/\1/p' "$logs/http.out" | head -n1) && [ -n "$port" ]; do
    i=$((i + 1)); [ $i -lt 100 ] || { echo "demo: http.server did not start"; exit 1; }
    sleep 0.05
done
"$bin/http_get" 127.0.0.1 "$port" /index.txt

section "server logs"
for f in "$logs"/*_server.out; do echo "-- $(basename "$f" .out)"; cat "$f"; done
echo
echo "== demo finished: every server is stopped"
