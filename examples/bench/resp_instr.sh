#!/usr/bin/env bash
# RESP servers' user-space instructions per request, counted by valgrind's callgrind: loopwire's
# `resp` (one loop) against redis-server under the same redis-benchmark load, a figure that does
# not move with the machine's load, for finding where one server's own code does more than the
# other's on a shared, noisy machine. It leaves out the kernel (most of the CPU time at one
# request in flight), so read it beside resp.sh's CPU time per request.
#
# Each case is TEST:PIPELINE (a redis-benchmark test name and its -P). Every server runs under
# callgrind twice per case: once for start-up, the case's fill (what redis-benchmark's earlier
# tests leave behind for this one: LPUSH before RPOP/LPOP, SADD before SPOP, ZADD before
# ZPOPMIN, as in resp.sh's sequence) and shutdown, once with the test's REQUESTS requests on
# top; the difference divided by REQUESTS is its instructions per request. redis-benchmark
# runs natively.
#
# Usage: examples/bench/resp_instr.sh [REQUESTS]
# Env:   CASES (default "set:1 rpop:1 sadd:1 spop:1 zpopmin:16"), CLIENTS (redis-benchmark -c,
#        50), PEERS (`NAME=COMMAND;...`, each COMMAND serving RESP and printing
#        `listening on tcp://HOST:PORT`, e.g. another build:
#        PEERS="before=/tmp/old/resp --addr 127.0.0.1:0 --loops 1"), CG_DIR (a directory to
#        keep each measured run's callgrind file in, for callgrind_annotate)
set -euo pipefail
cd "$(dirname "$0")/../.."

REQUESTS=${1:-20000}
CASES=${CASES:-"set:1 rpop:1 sadd:1 spop:1 zpopmin:16"}
CLIENTS=${CLIENTS:-50}

# shellcheck source=examples/bench/lib.sh
. examples/bench/lib.sh
need_tools valgrind valgrind
need_tools "redis-server redis-tools" redis-server redis-benchmark redis-cli
build_release -p loopwire-resp --bin resp

declare -A CMD=(
    [loopwire]="$BIN/resp --addr 127.0.0.1:0 --loops 1"
    [redis]="redis-server --save '' --appendonly no --bind 127.0.0.1 --daemonize no --logfile ''"
)
SERVERS=(loopwire redis)
add_peers

WORK=$(mktemp -d)
AT_EXIT+=("rm -rf '$WORK'")

# The test whose leftovers test $1 works on in redis-benchmark's default sequence.
fill_of() {
    case $1 in
    rpop | lpop) echo lpush ;;
    spop) echo sadd ;;
    zpopmin) echo zadd ;;
    *) echo "" ;;
    esac
}

# Starts server $1 under callgrind writing to $2 -> CG_PID, CG_PORT; false if it did not
# answer PING within 60 s.
start_cg() {
    local name=$1 cg=$2 out="$WORK/$1.out" cmd=${CMD[$1]}
    CG_PORT=""
    if [ "$name" = redis ]; then
        CG_PORT=$(free_port)
        cmd+=" --port $CG_PORT"
    fi
    rm -f "$cg" "$out"
    # `exec`: the background job is valgrind itself, so that $! is the process to stop.
    eval "exec valgrind --tool=callgrind --callgrind-out-file='$cg' $cmd" >"$out" 2>/dev/null &
    CG_PID=$!
    PIDS+=("$CG_PID")
    if [ "$name" != redis ]; then
        for _ in $(seq 1 600); do
            grep -qs 'listening on' "$out" && break
            sleep 0.1
        done
        CG_PORT=$(sed -n 's#.*listening on tcp://[^:]*:##p' "$out" | head -n1)
    fi
    [ -n "$CG_PORT" ] && resp_ready "$CG_PORT" "$CG_PID" 1200
}

# Runs server $1 under callgrind, the fill of test $2 at pipeline $3, then (with $4 = yes) test
# $2 itself, then stops the server. Prints the instructions counted. With CG_DIR set, keeps
# the callgrind file there (NAME-TEST-PPIPELINE.cg, for callgrind_annotate).
measure() {
    local name=$1 test=$2 pipe=$3 run=$4 cg="$WORK/$1.cg" fill started=no
    for _ in 1 2 3; do
        if start_cg "$name" "$cg"; then
            started=yes
            break
        fi
        kill -9 "$CG_PID" 2>/dev/null || true
        wait "$CG_PID" 2>/dev/null || true
        PIDS=()
    done
    [ "$started" = yes ] || {
        echo "server $name did not start under valgrind" >&2
        exit 1
    }
    # `measure` runs in a subshell (the caller reads its output), where the script's exit
    # trap does not see this server: a failure below stops it here.
    trap 'kill -9 "$CG_PID" 2>/dev/null || true' EXIT
    fill=$(fill_of "$test")
    if [ -n "$fill" ]; then
        redis-benchmark -h 127.0.0.1 -p "$CG_PORT" -q -t "$fill" -n "$REQUESTS" -c "$CLIENTS" \
            -P "$pipe" >/dev/null
    fi
    if [ "$run" = yes ]; then
        redis-benchmark -h 127.0.0.1 -p "$CG_PORT" -q -t "$test" -n "$REQUESTS" -c "$CLIENTS" \
            -P "$pipe" >/dev/null
    fi
    # SIGTERM: both shut down gracefully, and callgrind writes its totals as they exit (no
    # time bound: under valgrind the exit itself can take seconds).
    kill -TERM "$CG_PID"
    wait "$CG_PID" 2>/dev/null || true
    trap - EXIT
    PIDS=()
    if [ "$run" = yes ] && [ -n "${CG_DIR:-}" ]; then
        cp "$cg" "$CG_DIR/$name-$test-P$pipe.cg"
    fi
    sed -n 's/^summary: *//p' "$cg" | head -n1
}

echo "callgrind: redis-benchmark -c $CLIENTS -n $REQUESTS per case, one server thread" >&2
echo
echo "| test | -P | $(printf '%s instr/req | ' "${SERVERS[@]}")loopwire ÷ redis |"
echo "|---|---:|$(printf -- '---:|%.0s' "${SERVERS[@]}")---:|"
for c in $CASES; do
    test=${c%%:*}
    pipe=${c#*:}
    declare -A PER=()
    row="| $(echo "$test" | tr a-z A-Z) | $pipe |"
    for s in "${SERVERS[@]}"; do
        base=$(measure "$s" "$test" "$pipe" no)
        busy=$(measure "$s" "$test" "$pipe" yes)
        if [ -z "$base" ] || [ -z "$busy" ]; then
            echo "server $s, $c: no callgrind totals" >&2
            exit 1
        fi
        PER[$s]=$(awk -v b="$busy" -v i="$base" -v n="$REQUESTS" 'BEGIN { printf "%.0f", (b - i) / n }')
        echo "$s $c: $busy - $base instructions" >&2
        row+=" ${PER[$s]} |"
    done
    row+=" $(awk -v a="${PER[loopwire]}" -v b="${PER[redis]}" 'BEGIN { printf "%.2f", a / b }') |"
    echo "$row"
done
