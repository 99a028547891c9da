#!/usr/bin/env bash
# Where an echo server's CPU time goes: `perf record -e cpu-clock -g` (a software clock, since
# a VM may offer no hardware counters) attached to loopwire's echo on each backend while
# loadgen drives it, then `perf report` split by user space / kernel and by function, and the
# kernel's share by what it was doing (TCP send, TCP receive, io_uring, epoll, scheduling).
#
# Usage: examples/bench/echo_profile.sh [SECONDS]
# Env:   BACKENDS ("epoll io-uring"), PIPELINE (16), CONNS (50), SIZE (512), LOOPS (2),
#        TOP (15 functions per server), OUT (keep perf.data files there; a temp dir if unset)
set -euo pipefail
cd "$(dirname "$0")/../.."

SECS=${1:-8}
BACKENDS=${BACKENDS:-epoll io-uring}
PIPELINE=${PIPELINE:-16}
CONNS=${CONNS:-50}
SIZE=${SIZE:-512}
LOOPS=${LOOPS:-2}
TOP=${TOP:-15}

# shellcheck source=examples/bench/lib.sh
. examples/bench/lib.sh
need_tools linux-perf perf
build_release -p loopwire-examples --bin echo -p loopwire-bench --bin loadgen

OUT=${OUT:-}
if [ -z "$OUT" ]; then
    OUT=$(mktemp -d)
    AT_EXIT+=("rm -rf '$OUT'")
fi

for b in $BACKENDS; do
    "$BIN/echo" --addr tcp://127.0.0.1:0 --loops "$LOOPS" --backend "$b" >"$OUT/$b.out" 2>/dev/null &
    pid=$!
    PIDS+=("$pid")
    port=$(announced_port "$OUT/$b.out")
    [ -n "$port" ] || { echo "echo --backend $b did not start" >&2; exit 1; }
    "$BIN/loadgen" --addr "127.0.0.1:$port" --conns "$CONNS" --size "$SIZE" \
        --pipeline "$PIPELINE" --duration $((SECS + 2)) --warmup 1 --threads 1 >"$OUT/$b.load" &
    lg=$!
    sleep 1
    perf record -q -F 999 -e cpu-clock -g -p "$pid" -o "$OUT/$b.data" -- sleep "$SECS" 2>/dev/null
    wait "$lg"
    stop "$pid"
    echo "## echo --backend $b, $CONNS connections × $PIPELINE in flight, $SIZE B: $(grep -o 'msgs_per_sec=[0-9.]*' "$OUT/$b.load")"
    echo
    echo "user space / kernel (samples):"
    perf report -i "$OUT/$b.data" --no-children --sort dso --stdio 2>/dev/null |
        awk '/^ +[0-9.]+%/ { if ($2 ~ /kernel/) k += $1; else u += $1 }
             END { printf "  kernel %.1f %%, user space %.1f %%\n\n", k, u }'
    echo "kernel share by what it was doing (samples whose call chain holds the function; overlapping):"
    perf report -i "$OUT/$b.data" --children --sort sym --stdio -g none 2>/dev/null |
        awk '/^ +[0-9.]+%/ { print $1, $NF }' |
        grep -E ' (tcp_sendmsg|tcp_recvmsg|__x64_sys_sendto|__x64_sys_recvfrom|__x64_sys_io_uring_enter|io_issue_sqe|io_submit_sqes|tctx_task_work|io_handle_tw_list|io_do_iopoll|__x64_sys_epoll_wait|ep_poll|schedule|__tcp_transmit_skb|tcp_v4_rcv|net_rx_action|__do_softirq|handle_softirqs|io_recv|io_send|io_poll_task_func|io_req_task_complete|io_cqring_wait|__io_run_local_work|sock_def_readable)$' |
        sed 's/^/  /' || true
    echo
    echo "top $TOP functions (self):"
    perf report -i "$OUT/$b.data" --no-children --sort sym --stdio -g none 2>/dev/null |
        awk -v n="$TOP" '/^ +[0-9.]+%/ && ++c <= n { sub(/^ */, "  "); print }'
    echo
done
