#!/usr/bin/env bash
# Echo benchmark: loopwire vs tokio (multi-thread runtime) vs hand-written mio vs a raw libc
# epoll loop, same load, same run, rounds interleaved; prints medians and ratios as a Markdown
# table, then the idle memory per connection of each server.
#
# Usage: examples/bench/echo.sh [ROUNDS] [SECONDS]
# Env:   THREADS (server threads, default 2), CONNS (50), SIZE (512), PIPELINE (1),
#        IDLE (idle connections for the memory probe, default 10000; 0 skips it),
#        LOADGEN_THREADS (default THREADS), PIN=1 (servers on core 0, load generator on core 1),
#        BUSY_POLL_US (loopwire's EngineBuilder::busy_poll, default 0: off),
#        PEERS: more servers in the same run, `NAME=COMMAND` entries separated by `;`; each
#        COMMAND must print `listening on tcp://HOST:PORT` (e.g. another build of loopwire:
#        PEERS="before=/tmp/old/echo --addr tcp://127.0.0.1:0 --loops 2")
# Besides throughput and latency it reports the server process's CPU time per message (from
# /proc/PID/stat, user + system): what the server costs, whatever the load generator takes.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS=${1:-3}
SECS=${2:-10}
THREADS=${THREADS:-2}
CONNS=${CONNS:-50}
SIZE=${SIZE:-512}
PIPELINE=${PIPELINE:-1}
IDLE=${IDLE:-10000}
LOADGEN_THREADS=${LOADGEN_THREADS:-$THREADS}
HZ=$(getconf CLK_TCK)
# PIN=1: servers on core 0, the load generator on core 1 (so they do not steal each other's
# time slices; server threads then share one core).
SERVER_PREFIX=""
LOADGEN_PREFIX=""
if [ "${PIN:-0}" = 1 ]; then
    SERVER_PREFIX="taskset -c 0"
    LOADGEN_PREFIX="taskset -c 1"
fi

# shellcheck source=examples/bench/lib.sh
. examples/bench/lib.sh
build_release -p loopwire-examples --bin echo \
    -p loopwire-bench --bin loadgen --bin tokio_echo --bin mio_echo --bin epoll_echo

declare -A CMD=(
    [loopwire]="$BIN/echo --addr tcp://127.0.0.1:0 --loops $THREADS --busy-poll-us ${BUSY_POLL_US:-0}"
    [tokio]="$BIN/tokio_echo --addr 127.0.0.1:0 --threads $THREADS"
    [mio]="$BIN/mio_echo --addr 127.0.0.1:0 --threads $THREADS"
    [epoll]="$BIN/epoll_echo --addr 127.0.0.1:0 --threads $THREADS"
)
SERVERS=(loopwire tokio mio epoll)
add_peers

start_server() { # name -> sets SRV_PID, SRV_ADDR
    local out
    out=$(mktemp)
    $SERVER_PREFIX ${CMD[$1]} >"$out" 2>/dev/null &
    SRV_PID=$!
    PIDS+=("$SRV_PID")
    for _ in $(seq 1 200); do
        grep -q 'listening on' "$out" && break
        sleep 0.05
    done
    SRV_ADDR=$(sed -n 's#.*listening on tcp://##p' "$out" | head -n1)
    rm -f "$out"
    [ -n "$SRV_ADDR" ] || { echo "server $1 did not start" >&2; exit 1; }
}

stop_server() { stop "$SRV_PID"; }

declare -A RESULTS
for r in $(seq 1 "$ROUNDS"); do
    for s in "${SERVERS[@]}"; do
        start_server "$s"
        read -r u0 s0 < <(cpu_ticks "$SRV_PID")
        line=$($LOADGEN_PREFIX "$BIN/loadgen" --addr "$SRV_ADDR" --conns "$CONNS" --size "$SIZE" \
            --pipeline "$PIPELINE" --duration "$SECS" --warmup 1 --threads "$LOADGEN_THREADS")
        read -r u1 s1 < <(cpu_ticks "$SRV_PID")
        stop_server
        # Server CPU per message over the whole run (warm-up included, at the measured rate).
        line+=$(awk -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v hz="$HZ" -v secs=$((SECS + 1)) \
            -v m="$(echo "$line" | grep -o 'msgs_per_sec=[0-9.]*' | cut -d= -f2)" \
            'BEGIN { n = m * secs; printf " srv_user_ns=%.0f srv_sys_ns=%.0f srv_cpu_ns=%.0f", u / hz * 1e9 / n, s / hz * 1e9 / n, (u + s) / hz * 1e9 / n }')
        echo "round $r $s: $line" >&2
        RESULTS[$s]+="$line"$'\n'
    done
done

median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
field() { grep -o "$1=[0-9.]*" | cut -d= -f2; }

echo
echo "echo, $THREADS server threads, $CONNS connections, ${SIZE} B messages, pipeline $PIPELINE, ${SECS} s x $ROUNDS rounds (medians)"
echo
echo "| server | msgs/s | p50 µs | p99 µs | p99.9 µs | server CPU ns/msg (user + sys) | loopwire ÷ server (msgs/s) | server ÷ loopwire (CPU/msg) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
LWC=$(printf '%s' "${RESULTS[loopwire]}" | field srv_cpu_ns | median)
LW=$(printf '%s' "${RESULTS[loopwire]}" | field msgs_per_sec | median)
for s in "${SERVERS[@]}"; do
    m=$(printf '%s' "${RESULTS[$s]}" | field msgs_per_sec | median)
    p50=$(printf '%s' "${RESULTS[$s]}" | field p50_us | median)
    p99=$(printf '%s' "${RESULTS[$s]}" | field p99_us | median)
    p999=$(printf '%s' "${RESULTS[$s]}" | field p999_us | median)
    cu=$(printf '%s' "${RESULTS[$s]}" | field srv_user_ns | median)
    cs=$(printf '%s' "${RESULTS[$s]}" | field srv_sys_ns | median)
    c=$(printf '%s' "${RESULTS[$s]}" | field srv_cpu_ns | median)
    ratio=$(awk -v a="$LW" -v b="$m" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
    cratio=$(awk -v a="$c" -v b="$LWC" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }')
    echo "| $s | $m | $p50 | $p99 | $p999 | $c ($cu + $cs) | $ratio | $cratio |"
done

if [ "$IDLE" -gt 0 ]; then
    echo
    echo "idle memory: RSS growth of the server process over $IDLE idle connections"
    echo
    echo "| server | RSS before KiB | RSS after KiB | bytes per connection |"
    echo "|---|---:|---:|---:|"
    for s in "${SERVERS[@]}"; do
        start_server "$s"
        before=$(awk '/VmRSS/ {print $2}' "/proc/$SRV_PID/status")
        fifo=$(mktemp -u)
        mkfifo "$fifo"
        out=$(mktemp)
        "$BIN/loadgen" --addr "$SRV_ADDR" --idle "$IDLE" <"$fifo" >"$out" &
        lg=$!
        exec 9>"$fifo"
        for _ in $(seq 1 600); do
            grep -q idle_ready "$out" && break
            sleep 0.1
        done
        sleep 1
        after=$(awk '/VmRSS/ {print $2}' "/proc/$SRV_PID/status")
        exec 9>&-
        wait "$lg" || true
        rm -f "$fifo" "$out"
        stop_server
        per=$(awk -v a="$after" -v b="$before" -v n="$IDLE" 'BEGIN { printf "%.0f", (a - b) * 1024 / n }')
        echo "| $s | $before | $after | $per |"
    done
fi
