#!/usr/bin/env bash
# Echo servers' user-space instructions per message, counted by valgrind's callgrind: a
# figure that does not move with the machine's load (it counts instructions, not time), for
# comparing two builds or the peers on a shared, noisy machine. It leaves out the kernel
# (the system calls' own work, most of an echo server's CPU time), so read it beside echo.sh's
# CPU time per message.
#
# Each server runs under callgrind with one thread, twice: once stopped right after it
# started (start-up and shutdown alone), once after serving CONNS connections for SECS
# seconds of ping-pong; the difference divided by the messages served is its instructions per
# message. The load generator runs natively.
#
# Usage: examples/bench/echo_instr.sh [SECONDS]
# Env:   CONNS (10), SIZE (512), PEERS (as in echo.sh: `NAME=COMMAND;...`, each COMMAND
#        printing `listening on tcp://HOST:PORT`, e.g. another build of loopwire:
#        PEERS="before=/tmp/old/echo --addr tcp://127.0.0.1:0 --loops 1")
set -euo pipefail
cd "$(dirname "$0")/../.."

SECS=${1:-5}
CONNS=${CONNS:-10}
SIZE=${SIZE:-512}

# shellcheck source=examples/bench/lib.sh
. examples/bench/lib.sh
need_tools valgrind valgrind
build_release -p loopwire-examples --bin echo \
    -p loopwire-bench --bin loadgen --bin tokio_echo --bin mio_echo --bin epoll_echo

declare -A CMD=(
    [loopwire]="$BIN/echo --addr tcp://127.0.0.1:0 --loops 1"
    [tokio]="$BIN/tokio_echo --addr 127.0.0.1:0 --threads 1"
    [mio]="$BIN/mio_echo --addr 127.0.0.1:0 --threads 1"
    [epoll]="$BIN/epoll_echo --addr 127.0.0.1:0 --threads 1"
)
SERVERS=(loopwire tokio mio epoll)
add_peers

WORK=$(mktemp -d)
AT_EXIT+=("rm -rf '$WORK'")

# Runs server $1 under callgrind; with $2 > 0, drives it for $2 seconds first. Prints
# "INSTRUCTIONS MESSAGES".
measure() {
    local name=$1 secs=$2 out="$WORK/$1.out" cg="$WORK/$1.cg" pid addr line msgs=0
    # shellcheck disable=SC2086 # the command is a word list
    valgrind --tool=callgrind --callgrind-out-file="$cg" ${CMD[$name]} >"$out" 2>/dev/null &
    pid=$!
    PIDS+=("$pid")
    for _ in $(seq 1 1200); do
        grep -qs 'listening on' "$out" && break
        sleep 0.1
    done
    addr=$(sed -n 's#.*listening on tcp://##p' "$out" | head -n1)
    # `measure` runs in a subshell (the caller reads its output), where the exit trap's
    # cleanup does not see this server: stop it here.
    [ -n "$addr" ] || {
        echo "server $name did not start under valgrind" >&2
        kill -9 "$pid" 2>/dev/null || true
        exit 1
    }
    if [ "$secs" -gt 0 ]; then
        line=$("$BIN/loadgen" --addr "$addr" --conns "$CONNS" --size "$SIZE" --duration "$secs" \
            --warmup 0 --threads 1)
        msgs=$(awk -v m="$(grep -o 'msgs_per_sec=[0-9.]*' <<<"$line" | cut -d= -f2)" \
            -v s="$secs" 'BEGIN { printf "%.0f", m * s }')
    fi
    # SIGTERM (a background job ignores SIGINT unless it installs a handler): callgrind
    # writes its totals as the server exits, gracefully or not.
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
    PIDS=()
    echo "$(sed -n 's/^summary: *//p' "$cg" | head -n1) $msgs"
}

echo "callgrind: ${CONNS} connections, ${SIZE} B messages, ${SECS} s per server, one server thread" >&2
echo
echo "| server | instructions per message (user space) | messages counted | server ÷ loopwire |"
echo "|---|---:|---:|---:|"
declare -A PER
for s in "${SERVERS[@]}"; do
    read -r idle _ < <(measure "$s" 0)
    read -r busy msgs < <(measure "$s" "$SECS")
    if [ "${msgs:-0}" -le 0 ] || [ -z "$idle" ] || [ -z "$busy" ]; then
        echo "server $s: no messages or no callgrind totals" >&2
        exit 1
    fi
    PER[$s]=$(awk -v b="$busy" -v i="$idle" -v m="$msgs" 'BEGIN { printf "%.0f", (b - i) / m }')
    ratio=$(awk -v a="${PER[$s]}" -v l="${PER[loopwire]}" 'BEGIN { printf "%.2f", a / l }')
    echo "| $s | ${PER[$s]} | $msgs | $ratio |"
done
