#!/usr/bin/env bash
# Push cluster run (issue 15, small scale): K `push` nodes in cluster mode (`--redis`,
# `--node-id`) sharing ONE gateway port through SO_REUSEPORT (`--reuse-port`: the kernel
# spreads the connections over the K processes) on one redis-server, and one `pushload`
# process holding CONNS sessions through that port and publishing through node 1's HTTP API.
# So a user push goes node 1 -> Redis registry -> the owning node, a room push node 1 ->
# pub/sub -> every node. Same-run peer: ONE node without Redis on the same load and port.
# Reports per mode: time to connect all, RSS per session summed over the gateways, and
# pushload's publish-to-receipt latency (p50/p99) for a user, a SIZES room and everyone.
#
# Usage: examples/bench/cluster.sh
# Env:   K (nodes, 2), CONNS (10000), SIZES (1000), PUBLISHES (20), INTERVAL_MS (100),
#        IDLE_SECS (5), PING (client ping, s, 5), PAYLOAD (64), THREADS (pushload, 2)
# The scale run (100 000 to 1 000 000 sessions, several load processes from many 127.0.0.x
# sources, a reconnect storm and a gateway kill) is `cargo run --release -p loopwire-bench
# --bin scale` (examples/bench/README.md).
set -euo pipefail
cd "$(dirname "$0")/../.."

K=${K:-2}
CONNS=${CONNS:-10000}
SIZES=${SIZES:-1000}
PUBLISHES=${PUBLISHES:-20}
INTERVAL_MS=${INTERVAL_MS:-100}
IDLE_SECS=${IDLE_SECS:-5}
PING=${PING:-5}
PAYLOAD=${PAYLOAD:-64}
THREADS=${THREADS:-2}

ulimit -n 20000 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((CONNS + 100)) ]; then
    echo "ulimit -n is $(ulimit -n); $((CONNS + 100)) needed for CONNS=$CONNS" >&2
    exit 1
fi

# shellcheck source=examples/bench/lib.sh
. examples/bench/lib.sh
need_tools redis-server redis-server
build_release -p loopwire-push --bin push --bin pushload

TMP=$(mktemp -d)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_line() {
    local end=$((SECONDS + $3))
    until grep -q "$2" "$1" 2>/dev/null; do
        if [ "$SECONDS" -ge "$end" ]; then
            echo "timed out after $3 s waiting for '$2' in $1" >&2
            tail -n 5 "$1" >&2 || true
            exit 1
        fi
        sleep 0.1
    done
}
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
field() { grep -o "$1=[0-9.]*" | head -n1 | cut -d= -f2; }

# run MODE NODES: starts NODES gateways (cluster mode when MODE=cluster) on one port, runs
# pushload, prints one block of results.
run() {
    local mode=$1 nodes=$2 port redis_port="" gw=() api="" rss0=0 rss1=0 i
    port=$(free_port)
    if [ "$mode" = cluster ]; then
        redis_port=$(free_port)
        redis-server --port "$redis_port" --bind 127.0.0.1 --save "" --appendonly no \
            >"$TMP/redis.out" 2>&1 &
        PIDS+=($!)
        sleep 0.3
    fi
    for i in $(seq 1 "$nodes"); do
        local extra=()
        [ "$mode" = cluster ] && extra=(--redis "redis://127.0.0.1:$redis_port" --node-id "n$i" --cluster-refresh-ms 1000)
        "$BIN/push" --dev --addr "127.0.0.1:$port" --reuse-port --loops 1 --api-addr 127.0.0.1:0 \
            --heartbeat-secs 10 "${extra[@]}" >"$TMP/gw$i.out" 2>"$TMP/gw$i.err" &
        PIDS+=($!)
        gw+=($!)
        wait_line "$TMP/gw$i.out" '^listening on' 10
    done
    api=$(sed -n 's#^api listening on http://##p' "$TMP/gw1.out" | head -n1)
    sleep 1.5
    for p in "${gw[@]}"; do rss0=$((rss0 + $(rss_kib "$p"))); done
    "$BIN/pushload" --dev --addr "127.0.0.1:$port" --api-addr "$api" --conns "$CONNS" \
        --threads "$THREADS" --heartbeat-secs "$PING" --sizes "$SIZES" --idle-secs "$IDLE_SECS" \
        --publishes "$PUBLISHES" --interval-ms "$INTERVAL_MS" --payload "$PAYLOAD" --unacked \
        --settle-secs 30 >"$TMP/pl.out" 2>"$TMP/pl.err"
    for p in "${gw[@]}"; do rss1=$((rss1 + $(rss_kib "$p"))); done
    echo "### $mode: $nodes node(s) on port $port, $CONNS sessions"
    grep '^phase=connected' "$TMP/pl.out"
    awk -v a="$rss1" -v b="$rss0" -v n="$CONNS" \
        'BEGIN { printf "gateways RSS: %d KiB before, %d KiB after the run: %.0f bytes per session\n", b, a, (a - b) * 1024 / n }'
    echo
    echo "| target | members | mode | delivered / expected | p50 µs | p99 µs | max µs | to last delivery p50 µs |"
    echo "|---|---:|---|---:|---:|---:|---:|---:|"
    grep '^result' "$TMP/pl.out" | while read -r line; do
        echo "| $(echo "$line" | grep -o 'room=[^ ]*' | cut -d= -f2) | $(echo "$line" | field members) | $(echo "$line" | grep -o 'mode=[^ ]*' | cut -d= -f2) | $(echo "$line" | field delivered) / $(echo "$line" | field expected) | $(echo "$line" | field p50_us) | $(echo "$line" | field p99_us) | $(echo "$line" | field max_us) | $(echo "$line" | field last_p50_us) |"
    done
    grep '^summary' "$TMP/pl.out"
    echo
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    PIDS=()
}

echo "uptime before: $(uptime)"
run cluster "$K"
run single 1
echo "uptime after: $(uptime)"
