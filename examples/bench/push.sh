#!/usr/bin/env bash
# Push gateway scale run: the push service (`push --dev`, examples/push) in one process, `pushload`
# in another holding CONNS long connections (each authenticated as its own user with a token it
# mints with the development secret, in room `all` plus one room of each size in SIZES,
# heartbeating every PING seconds, ACKing every QoS1 message). Reports:
#   - connect time, the gateway's RSS per session, and its CPU while only heartbeats flow;
#   - publish-to-receipt latency (p50/p99/max, one clock: pushload stamps the payload and
#     publishes through the HTTP API, one keep-alive connection) for room `all` (CONNS
#     members), one room of each size in SIZES and one user, and for rooms the time from a
#     publish to its LAST delivery (median and worst over the publishes), QoS1 (`acked`: stored, then pulled by each
#     session) and QoS0 (`unacked`: through the sessions' mailboxes);
#   - the gateway's counters (delivered, acked, retransmitted, dropped, ACK round trip).
#
# Usage: examples/bench/push.sh
# Env:   CONNS (19000), LOOPS (gateway loops, 2), HEARTBEAT (gateway heartbeat interval, s, 10),
#        PING (client ping interval, s, 5), IDLE_SECS (20), PUBLISHES (per room and mode, 20),
#        INTERVAL_MS (between publishes, 100), SIZES (1000: each session in 2 rooms), THREADS (pushload, 2),
#        PAYLOAD (bytes, 64), BACKEND (the gateway's --backend: epoll, the default, io-uring or polling)
# Needs about CONNS + 100 open files per process (the gateway and pushload are separate
# processes): it raises `ulimit -n` to 20000 if allowed.
set -euo pipefail
cd "$(dirname "$0")/../.."

CONNS=${CONNS:-19000}
LOOPS=${LOOPS:-2}
HEARTBEAT=${HEARTBEAT:-10}
PING=${PING:-5}
IDLE_SECS=${IDLE_SECS:-20}
PUBLISHES=${PUBLISHES:-20}
INTERVAL_MS=${INTERVAL_MS:-100}
SIZES=${SIZES:-1000}
THREADS=${THREADS:-2}
PAYLOAD=${PAYLOAD:-64}
BACKEND=${BACKEND:-epoll}
HZ=$(getconf CLK_TCK)

if [ "$IDLE_SECS" -lt 3 ]; then
    echo "IDLE_SECS must be at least 3 (the samples are taken inside the idle phase)" >&2
    exit 1
fi
ulimit -n 20000 2>/dev/null || true
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt $((CONNS + 100)) ]; then
    echo "ulimit -n is $(ulimit -n); $((CONNS + 100)) needed for CONNS=$CONNS" >&2
    exit 1
fi

# shellcheck source=examples/bench/lib.sh
. examples/bench/lib.sh
build_release -p loopwire-push --bin push --bin pushload

TMP=$(mktemp -d)
GW_PID=""
PL_PID=""
cleanup() {
    [ -n "$PL_PID" ] && kill "$PL_PID" 2>/dev/null || true
    [ -n "$GW_PID" ] && kill "$GW_PID" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# wait_line FILE PATTERN SECONDS: waits until FILE has a line matching PATTERN.
wait_line() {
    local end=$((SECONDS + $3))
    until grep -q "$2" "$1" 2>/dev/null; do
        if [ "$SECONDS" -ge "$end" ]; then
            echo "timed out after $3 s waiting for '$2' in $1:" >&2
            tail -n 5 "$1" >&2 || true
            exit 1
        fi
        sleep 0.1
    done
}
rss_kib() { awk '/VmRSS/ {print $2}' "/proc/$1/status"; }
cpu_total_ticks() { cpu_ticks "$1" | awk '{print $1 + $2}'; }

echo "uptime before: $(uptime)"
# --dev: the public development secret and API token, which pushload --dev uses too.
"$BIN/push" --backend "$BACKEND" --dev --addr 127.0.0.1:0 --api-addr 127.0.0.1:0 --loops "$LOOPS" \
    --heartbeat-secs "$HEARTBEAT" --stats-secs 1 >"$TMP/gw.out" 2>"$TMP/gw.err" &
GW_PID=$!
wait_line "$TMP/gw.out" '^listening on' 10
ADDR=$(sed -n 's#^listening on tcp://##p' "$TMP/gw.out" | head -n1)
API_ADDR=$(sed -n 's#^api listening on http://##p' "$TMP/gw.out" | head -n1)
STATE=$(sed -n 's/^session_state_bytes=//p' "$TMP/gw.out")
sleep 0.5
RSS0=$(rss_kib "$GW_PID")

"$BIN/pushload" --dev --addr "$ADDR" --api-addr "$API_ADDR" --conns "$CONNS" --threads "$THREADS" --heartbeat-secs "$PING" \
    --sizes "$SIZES" --idle-secs "$IDLE_SECS" --publishes "$PUBLISHES" \
    --interval-ms "$INTERVAL_MS" --payload "$PAYLOAD" --unacked --settle-secs 60 \
    >"$TMP/pl.out" 2>"$TMP/pl.err" &
PL_PID=$!
wait_line "$TMP/pl.out" 'phase=idle_start' 300
# Past the first round of PINGs, which pushload spreads over one interval.
sleep 1
T0=$(date +%s.%N)
C0=$(cpu_total_ticks "$GW_PID")
# The CPU and RSS samples end a second before pushload's idle phase does, not at its
# `idle_end`: pushload publishes right after printing it, and the first publish (QoS1 to
# everyone: a stored message and a window entry per session) would be counted as session
# memory and heartbeat CPU by however far the gateway got with it.
sleep $((IDLE_SECS - 2))
T1=$(date +%s.%N)
C1=$(cpu_total_ticks "$GW_PID")
RSS1=$(rss_kib "$GW_PID")
wait_line "$TMP/pl.out" 'phase=idle_end' 60
# Until pushload's summary, or pushload gave up (it exits when deliveries time out).
end=$((SECONDS + 900))
until grep -q '^summary' "$TMP/pl.out" || ! kill -0 "$PL_PID" 2>/dev/null || [ "$SECONDS" -ge "$end" ]; do
    sleep 0.2
done
if ! grep -q '^summary' "$TMP/pl.out"; then
    echo "pushload ended without a summary:" >&2
    tail -n 3 "$TMP/pl.err" >&2
    grep '^stats' "$TMP/gw.out" | tail -n 1 >&2
    exit 1
fi
wait "$PL_PID" || true
PL_PID=""
sleep 1.5 # one more stats line after the last ACKs
STATS=$(grep '^stats' "$TMP/gw.out" | tail -n1)
kill "$GW_PID" 2>/dev/null || true
wait "$GW_PID" 2>/dev/null || true
GW_PID=""

field() { grep -o "$1=[0-9.]*" | head -n1 | cut -d= -f2; }
echo
echo "push gateway ($BACKEND): $CONNS connections, $LOOPS loops, client PING every ${PING} s (gateway heartbeat ${HEARTBEAT} s), rooms all + $SIZES"
echo
grep '^phase=connected' "$TMP/pl.out"
echo "session state: $STATE bytes (size_of::<Session>)"
awk -v a="$RSS1" -v b="$RSS0" -v n="$CONNS" \
    'BEGIN { printf "gateway RSS: %d KiB idle, %d KiB with the connections: %.0f bytes per session (each in %s rooms)\n", b, a, (a - b) * 1024 / n, "'"$(($(echo "$SIZES" | tr ',' '\n' | wc -l) + 1))"'" }'
awk -v c=$((C1 - C0)) -v hz="$HZ" -v t0="$T0" -v t1="$T1" \
    'BEGIN { printf "gateway CPU while idle (heartbeats only): %.2f %% of one core over %.1f s\n", c / hz / (t1 - t0) * 100, t1 - t0 }'
grep '^pings=' "$TMP/pl.out"
echo
echo "| target | members | mode | delivered / expected | p50 µs | p99 µs | max µs | to last delivery p50 / max µs | publish RTT p50 µs |"
echo "|---|---:|---|---:|---:|---:|---:|---:|---:|"
grep '^result' "$TMP/pl.out" | while read -r line; do
    room=$(echo "$line" | grep -o 'room=[^ ]*' | cut -d= -f2)
    mode=$(echo "$line" | grep -o 'mode=[^ ]*' | cut -d= -f2)
    echo "| $room | $(echo "$line" | field members) | $mode | $(echo "$line" | field delivered) / $(echo "$line" | field expected) | $(echo "$line" | field p50_us) | $(echo "$line" | field p99_us) | $(echo "$line" | field max_us) | $(echo "$line" | field last_p50_us) / $(echo "$line" | field last_max_us) | $(echo "$line" | field publish_rtt_p50_us) |"
done
echo
grep '^summary' "$TMP/pl.out"
echo "gateway $STATS"
echo "uptime after: $(uptime)"
