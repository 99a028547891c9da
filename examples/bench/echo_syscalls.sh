#!/usr/bin/env bash
# Echo servers' system calls per message, counted by `strace -c -f`: what io_uring saves
# (one `io_uring_enter` per loop turn instead of a recv and a send per message, plus the
# epoll_wait). A count, not a time, so it moves little with the machine's load; strace slows
# every server alike, so read the throughput it prints as a ratio only.
#
# Each server runs under strace with two threads; the load generator (natively, one thread)
# drives CONNS connections at PIPELINE messages in flight for SECS seconds; the calls the
# server made (start-up included: a few dozen) divided by the messages it echoed.
#
# Usage: examples/bench/echo_syscalls.sh [SECONDS]
# Env:   CONNS (50), SIZE (512), PIPELINES ("1 16"), PEERS (as in echo.sh)
set -euo pipefail
cd "$(dirname "$0")/../.."

SECS=${1:-3}
CONNS=${CONNS:-50}
SIZE=${SIZE:-512}
PIPELINES=${PIPELINES:-1 16}

# shellcheck source=examples/bench/lib.sh
. examples/bench/lib.sh
need_tools strace strace
build_release -p loopwire-examples --bin echo \
    -p loopwire-bench --bin loadgen --bin tokio_echo --bin mio_echo --bin epoll_echo

declare -A CMD=(
    [loopwire-epoll]="$BIN/echo --addr tcp://127.0.0.1:0 --loops 2 --backend epoll"
    [loopwire-io-uring]="$BIN/echo --addr tcp://127.0.0.1:0 --loops 2 --backend io-uring"
    [tokio]="$BIN/tokio_echo --addr 127.0.0.1:0 --threads 2"
    [mio]="$BIN/mio_echo --addr 127.0.0.1:0 --threads 2"
    [epoll]="$BIN/epoll_echo --addr 127.0.0.1:0 --threads 2"
)
SERVERS=(loopwire-epoll loopwire-io-uring tokio mio epoll)
add_peers

WORK=$(mktemp -d)
AT_EXIT+=("rm -rf '$WORK'")

# Runs server $1 under strace at pipeline $2. Prints "CALLS MESSAGES TOP" (TOP: the four
# most frequent calls as name=count).
measure() {
    local name=$1 pipe=$2 out="$WORK/$1.out" st="$WORK/$1.strace" pid addr line msgs calls top
    # shellcheck disable=SC2086 # the command is a word list
    strace -f -c -o "$st" ${CMD[$name]} >"$out" 2>/dev/null &
    pid=$!
    for _ in $(seq 1 200); do
        grep -qs 'listening on' "$out" && break
        sleep 0.05
    done
    addr=$(sed -n 's#.*listening on \(tcp://\)\{0,1\}##p' "$out" | head -n1)
    [ -n "$addr" ] || {
        echo "server $name did not start under strace" >&2
        kill -9 "$pid" 2>/dev/null || true
        exit 1
    }
    line=$("$BIN/loadgen" --addr "$addr" --conns "$CONNS" --size "$SIZE" --pipeline "$pipe" \
        --duration "$SECS" --warmup 0 --threads 1)
    msgs=$(awk -v m="$(grep -o 'msgs_per_sec=[0-9.]*' <<<"$line" | cut -d= -f2)" \
        -v s="$SECS" 'BEGIN { printf "%.0f", m * s }')
    # strace forwards the signal to the traced server and writes its summary as it exits.
    kill -TERM "$pid"
    wait "$pid" 2>/dev/null || true
    calls=$(awk '$NF == "total" { print $(NF - 2) }' "$st" | tail -n1)
    top=$(awk 'NR > 2 && $1 ~ /^[0-9.]+$/ && $NF != "total" { print $NF "=" $4 }' "$st" |
        head -n4 | paste -sd' ')
    echo "${calls:-0} $msgs $top"
}

echo "strace -c -f: ${CONNS} connections, ${SIZE} B messages, ${SECS} s per server, two server threads" >&2
echo
echo "| server | in flight | messages | system calls per message | ÷ loopwire-epoll | most frequent calls |"
echo "|---|---:|---:|---:|---:|---|"
for p in $PIPELINES; do
    declare -A PER=()
    for s in "${SERVERS[@]}"; do
        read -r calls msgs top < <(measure "$s" "$p")
        if [ "${msgs:-0}" -le 0 ] || [ "${calls:-0}" -le 0 ]; then
            echo "server $s: no messages or no strace totals" >&2
            exit 1
        fi
        PER[$s]=$(awk -v c="$calls" -v m="$msgs" 'BEGIN { printf "%.3f", c / m }')
        ratio=$(awk -v a="${PER[$s]}" -v l="${PER[loopwire-epoll]}" 'BEGIN { printf "%.2f", a / l }')
        echo "| $s | $p | $msgs | ${PER[$s]} | $ratio | $top |"
    done
done
