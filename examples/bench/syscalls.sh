#!/usr/bin/env bash
# HTTP and RESP servers' system calls per request, counted by `perf stat -e
# raw_syscalls:sys_enter` attached to the server (all its threads) for the measured run only:
# what io_uring saves against epoll for a protocol server, next to the same-run peers. Also
# the server's CPU time per request (/proc/PID/stat, user + system) and the most frequent
# calls (`syscalls:sys_enter_*` tracepoints). A count moves little with the machine's load;
# the tracepoints cost the server a little per call, so read its throughput as a ratio only.
# (echo_syscalls.sh does the same for echo, with strace.)
#
#   http: wrk -t1 -c CONNS on GET /plaintext, PIPELINE requests per write (pipeline.lua);
#         loopwire `http` on epoll and io-uring, tokio_http, mio_http, hyper_http, may_minihttp.
#   resp: redis-benchmark -c CONNS -P PIPELINE -t TEST (SET then GET, one run each);
#         loopwire `resp` on epoll and io-uring, tokio_resp, mio_resp, redis-server.
#
# Usage: examples/bench/syscalls.sh http|resp [SECONDS]
# Env:   LOOPS (loopwire loops, tokio/mio/may threads; 2), CONNS (100 for http, 50 for resp),
#        PIPELINES ("1 16"), PEERS (as in echo.sh: NAME=COMMAND;..., {port} is replaced),
#        RESP_RATE (requests a second redis-benchmark is sized for, per pipeline depth 1:
#        20000; 10x at depth 16), ROUNDS (1: every server once per depth; more: rounds in
#        alternating order, medians)
set -euo pipefail
cd "$(dirname "$0")/../.."

LOAD=${1:?usage: syscalls.sh http|resp [SECONDS]}
SECS=${2:-3}
LOOPS=${LOOPS:-2}
PIPELINES=${PIPELINES:-1 16}
ROUNDS=${ROUNDS:-1}
RESP_RATE=${RESP_RATE:-20000}
HZ=$(getconf CLK_TCK)

# shellcheck source=examples/bench/lib.sh
. examples/bench/lib.sh
need_tools linux-perf perf

declare -A CMD=()
case "$LOAD" in
http)
    CONNS=${CONNS:-100}
    need_tools wrk wrk
    build_release -p loopwire-http --bin http \
        -p loopwire-bench --bin tokio_http --bin mio_http --bin hyper_http --bin may_http
    CMD=(
        [loopwire-epoll]="$BIN/http --addr 127.0.0.1:{port} --loops $LOOPS --backend epoll"
        [loopwire-io-uring]="$BIN/http --addr 127.0.0.1:{port} --loops $LOOPS --backend io-uring"
        [tokio]="$BIN/tokio_http --addr 127.0.0.1:{port} --threads $LOOPS"
        [mio]="$BIN/mio_http --addr 127.0.0.1:{port} --threads $LOOPS"
        [hyper]="$BIN/hyper_http --addr 127.0.0.1:{port} --threads $LOOPS"
        [may_minihttp]="$BIN/may_http --port {port} --threads $LOOPS"
    )
    SERVERS=(loopwire-epoll loopwire-io-uring tokio mio hyper may_minihttp)
    TESTS=(GET)
    ;;
resp)
    CONNS=${CONNS:-50}
    need_tools "redis-server redis-tools" redis-server redis-benchmark
    build_release -p loopwire-resp --bin resp -p loopwire-bench --bin tokio_resp --bin mio_resp
    CMD=(
        [loopwire-epoll]="$BIN/resp --addr 127.0.0.1:{port} --loops $LOOPS --backend epoll"
        [loopwire-io-uring]="$BIN/resp --addr 127.0.0.1:{port} --loops $LOOPS --backend io-uring"
        [tokio]="$BIN/tokio_resp --addr 127.0.0.1:{port} --threads $LOOPS"
        [mio]="$BIN/mio_resp --addr 127.0.0.1:{port} --threads $LOOPS"
        [redis-server]="redis-server --port {port} --bind 127.0.0.1 --save '' --appendonly no"
    )
    SERVERS=(loopwire-epoll loopwire-io-uring tokio mio redis-server)
    TESTS=(SET GET)
    ;;
*)
    echo "syscalls.sh: unknown load '$LOAD' (http or resp)" >&2
    exit 2
    ;;
esac
add_peers

WORK=$(mktemp -d)
AT_EXIT+=("rm -rf '$WORK'")

# Waits (at most 10 s) until the server on port $1 answers its protocol; fails if process $2
# died.
ready() {
    local reply
    if [ "$LOAD" = resp ]; then
        resp_ready "$1" "$2"
        return
    fi
    for _ in $(seq 1 200); do
        kill -0 "$2" 2>/dev/null || return 1
        reply=$(timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1 &&
            printf 'GET /plaintext HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n' >&3 &&
            IFS= read -r -t 1 status <&3 && echo \"\$status\"" 2>/dev/null || true)
        # The status line only: may_minihttp keeps the connection open despite `close`.
        case "$reply" in
        "HTTP/1.1 200 "*) return 0 ;;
        esac
        sleep 0.05
    done
    return 1
}

# Runs the load once against port $1 at pipeline $2 (test $3 for resp); prints the requests
# it completed.
load() {
    local port=$1 pipe=$2 test=$3 out n
    if [ "$LOAD" = http ]; then
        if [ "$pipe" -gt 1 ]; then
            out=$(wrk -t1 -c"$CONNS" -d"${SECS}s" -s examples/bench/pipeline.lua \
                "http://127.0.0.1:$port/plaintext" -- "$pipe")
        else
            out=$(wrk -t1 -c"$CONNS" -d"${SECS}s" "http://127.0.0.1:$port/plaintext")
        fi
        if grep -q 'Non-2xx\|Socket errors' <<<"$out"; then
            echo "wrk: $(grep 'Non-2xx\|Socket errors' <<<"$out" | paste -sd' ')" >&2
        fi
        sed -n 's/^ *\([0-9]*\) requests in .*/\1/p' <<<"$out"
    else
        n=$((SECS * RESP_RATE * (pipe > 1 ? 10 : 1)))
        redis-benchmark -h 127.0.0.1 -p "$port" -c "$CONNS" -n "$n" -P "$pipe" -t "$test" \
            --csv >/dev/null
        echo "$n"
    fi
}

# Unmeasured load on port $1 after a start: 1 s of wrk, or 10 000 SETs.
warm() {
    if [ "$LOAD" = http ]; then
        wrk -t1 -c"$CONNS" -d1s "http://127.0.0.1:$1/plaintext" >/dev/null
    else
        redis-benchmark -h 127.0.0.1 -p "$1" -c "$CONNS" -n 10000 -t SET --csv >/dev/null
    fi
}

# Measures server $1 at pipeline $2 on test $3: starts it, warms it up (unmeasured), attaches
# perf for the measured run. Prints "REQS SECONDS CALLS CPU_TICKS TOP".
measure() {
    local name=$1 pipe=$2 test=$3 try port pid perf_pid reqs t0 t1 u0 s0 u1 s1 calls top st="$WORK/perf.csv"
    # A port nothing answers on may still be bound by a client's connection (lib.sh's
    # free_port picks at random): another port then, at most 5 tries.
    for try in 1 2 3 4 5; do
        port=$(free_port)
        # eval: the command is a word list (with quotes: redis-server's --save ''); exec: $! is
        # the server itself, which perf attaches to.
        eval "exec ${CMD[$name]//\{port\}/$port}" >/dev/null 2>"$WORK/$name.err" &
        pid=$!
        PIDS+=("$pid")
        ready "$port" "$pid" && break
        stop "$pid"
        [ "$try" -lt 5 ] || {
            echo "server $name did not start: $(tail -n3 "$WORK/$name.err")" >&2
            exit 1
        }
    done
    warm "$port"
    perf stat -x, -o "$st" -p "$pid" -e raw_syscalls:sys_enter -e 'syscalls:sys_enter_*' &
    perf_pid=$!
    sleep 0.3 # perf attaches to every thread before the load starts
    read -r u0 s0 < <(cpu_ticks "$pid")
    t0=$(date +%s.%N)
    reqs=$(load "$port" "$pipe" "$test")
    t1=$(date +%s.%N)
    read -r u1 s1 < <(cpu_ticks "$pid")
    kill -INT "$perf_pid"
    wait "$perf_pid" 2>/dev/null || true
    stop "$pid"
    calls=$(awk -F, '$3 == "raw_syscalls:sys_enter" { print $1 }' "$st")
    top=$(awk -F, '$3 ~ /^syscalls:sys_enter_/ && $1 ~ /^[0-9]+$/ && $1 > 0 {
            sub("syscalls:sys_enter_", "", $3); print $1, $3 }' "$st" |
        sort -rn | awk -v r="$reqs" 'NR <= 4 { printf "%s %.3g, ", $2, $1 / r }' |
        sed 's/, $//')
    echo "$reqs $(awk -v a="$t0" -v b="$t1" 'BEGIN { print b - a }') ${calls:-0} $((u1 + s1 - u0 - s0)) $top"
}

echo "perf stat -e raw_syscalls:sys_enter: $LOAD, $CONNS connections, $SECS s per run, $LOOPS server threads (redis-server: 1), $ROUNDS round(s), $(nproc) cores shared by servers and load tools" >&2
echo
echo "| case | server | requests/s | ÷ loopwire-epoll | system calls per request | ÷ loopwire-epoll | server CPU µs per request | ÷ loopwire-epoll | most frequent calls per request |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---|"
for p in $PIPELINES; do
    for t in "${TESTS[@]}"; do
        declare -A RPS=() SC=() CPU=() TOP=()
        for r in $(seq 1 "$ROUNDS"); do
            order=("${SERVERS[@]}")
            if [ $((r % 2)) = 0 ]; then
                order=()
                for ((i = ${#SERVERS[@]} - 1; i >= 0; i--)); do order+=("${SERVERS[$i]}"); done
            fi
            for s in "${order[@]}"; do
                read -r reqs secs calls ticks top < <(measure "$s" "$p" "$t")
                if [ "${reqs:-0}" -le 0 ] || [ "${calls:-0}" -le 0 ]; then
                    echo "server $s: no requests or no system call count" >&2
                    exit 1
                fi
                RPS[$s]+="$(awk -v n="$reqs" -v s="$secs" 'BEGIN { printf "%.0f", n / s }') "
                SC[$s]+="$(awk -v c="$calls" -v n="$reqs" 'BEGIN { printf "%.3f", c / n }') "
                CPU[$s]+="$(awk -v c="$ticks" -v n="$reqs" -v hz="$HZ" 'BEGIN { printf "%.3f", c / hz * 1e6 / n }') "
                TOP[$s]=$top
                echo "  [$LOAD $t -P $p round $r] $s: $reqs requests, $calls calls, $ticks ticks" >&2
            done
        done
        med() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END {
            print (NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2) }'; }
        ref_rps=$(med "${RPS[loopwire-epoll]}")
        ref_sc=$(med "${SC[loopwire-epoll]}")
        ref_cpu=$(med "${CPU[loopwire-epoll]}")
        label="$LOAD -P $p"
        [ "$LOAD" = resp ] && label="resp $t -P $p"
        for s in "${SERVERS[@]}"; do
            rps=$(med "${RPS[$s]}")
            sc=$(med "${SC[$s]}")
            cpu=$(med "${CPU[$s]}")
            awk -v l="$label" -v s="$s" -v rps="$rps" -v sc="$sc" -v cpu="$cpu" -v rr="$ref_rps" \
                -v rs="$ref_sc" -v rc="$ref_cpu" -v top="${TOP[$s]}" 'BEGIN {
                printf "| %s | %s | %.0f | %.2f | %.3f | %.2f | %.2f | %.2f | %s |\n",
                    l, s, rps, rps / rr, sc, sc / rs, cpu, (rc > 0 ? cpu / rc : 0), top }'
        done
        unset RPS SC CPU TOP
    done
done
