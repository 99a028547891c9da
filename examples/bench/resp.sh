#!/usr/bin/env bash
# RESP benchmark: loopwire's `resp` server vs redis-server, both driven by redis-benchmark, same
# run, rounds interleaved (within a round each test runs against one server, then the other,
# the order alternating between rounds); prints medians across rounds and ratios
# loopwire ÷ redis as a Markdown table.
#
# Usage: examples/bench/resp.sh [ROUNDS] [REQUESTS]
# Env:   LOOPS (loopwire event loops, default 2), CLIENTS (redis-benchmark -c, default 50),
#        PIPELINES (default "1 16": redis-benchmark -P values), TESTS (default: every test
#        redis-benchmark runs without -t, one test per run so each gets its own CPU figure;
#        an LRANGE_* run also does its LPUSH fill, only the LRANGE row is kept),
#        BENCH_TIMEOUT (seconds per redis-benchmark run, 300),
#        BUSY_POLL_US (loopwire's EngineBuilder::busy_poll, default 0: off),
#        BACKEND (loopwire's --backend: epoll, the default, or io-uring, polling).
# Besides requests per second and latency it reports each server process's CPU time per
# request (from /proc/PID/stat, user + system, 10 ms ticks: use more REQUESTS for finer
# figures), and redis-benchmark's own CPU time per request against each server (user + system,
# GNU time's 10 ms resolution). Where both processes share the machine's cores, the rate at
# one request in flight can only rise as far as their summed CPU per request falls: the
# "CPU-bound ceiling" column is (client + server CPU/req with redis) ÷ (the same with
# loopwire), the ratio loopwire would reach if CPU alone set the rate. Installs
# redis-server, redis-tools and time with apt-get when they are missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS=${1:-3}
REQUESTS=${2:-100000}
LOOPS=${LOOPS:-2}
BACKEND=${BACKEND:-epoll}
CLIENTS=${CLIENTS:-50}
PIPELINES=${PIPELINES:-"1 16"}
TESTS=${TESTS:-"ping_inline ping_mbulk set get incr lpush rpush lpop rpop sadd hset spop zadd zpopmin lrange_100 lrange_300 lrange_500 lrange_600 mset"}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-300}
HZ=$(getconf CLK_TCK)

# shellcheck source=examples/bench/lib.sh
. examples/bench/lib.sh
need_tools "redis-server redis-tools time" redis-server redis-benchmark redis-cli /usr/bin/time
build_release -p loopwire-resp --bin resp

start_loopwire() { # -> LW_PID, LW_PORT
    local out
    out=$(mktemp)
    "$BIN/resp" --addr 127.0.0.1:0 --loops "$LOOPS" --backend "$BACKEND" --busy-poll-us "${BUSY_POLL_US:-0}" >"$out" 2>/dev/null &
    LW_PID=$!
    PIDS+=("$LW_PID")
    LW_PORT=$(announced_port "$out")
    rm -f "$out"
    [ -n "$LW_PORT" ] && resp_ready "$LW_PORT" "$LW_PID" || {
        echo "loopwire resp did not start" >&2
        exit 1
    }
}

start_redis() { # -> RD_PID, RD_PORT
    for _ in $(seq 1 5); do
        RD_PORT=$(free_port)
        redis-server --save '' --appendonly no --port "$RD_PORT" --bind 127.0.0.1 \
            --daemonize no --logfile '' >/dev/null 2>&1 &
        RD_PID=$!
        PIDS+=("$RD_PID")
        resp_ready "$RD_PORT" "$RD_PID" && return 0
        stop "$RD_PID"
    done
    echo "redis-server did not start" >&2
    exit 1
}

# One redis-benchmark run: server pid, port, test, pipeline -> one result line.
measure() {
    local pid=$1 port=$2 test=$3 pipe=$4 u0 s0 u1 s1 csv tf cu cs
    tf=$(mktemp)
    read -r u0 s0 < <(cpu_ticks "$pid")
    csv=$(timeout "$BENCH_TIMEOUT" /usr/bin/time -f "%U %S" -o "$tf" \
        redis-benchmark -h 127.0.0.1 -p "$port" -q -t "$test" \
        -n "$REQUESTS" -c "$CLIENTS" -P "$pipe" --csv)
    read -r u1 s1 < <(cpu_ticks "$pid")
    read -r cu cs <"$tf"
    rm -f "$tf"
    # The last data row (an LRANGE test's fill comes first): "TEST","rps","avg","min","p50",
    # "p95","p99","max". The CPU figure then includes the fill.
    echo "$csv" | awk -F'","' -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v hz="$HZ" -v n="$REQUESTS" \
        -v client="$cu $cs" '
        NR > 1 && NF >= 7 { rps = $2; p50 = $5; p99 = $7 }
        END {
            if (rps != "")
                split(client, c, " ")
                printf "rps=%s p50_ms=%s p99_ms=%s cpu_user_ns=%.0f cpu_sys_ns=%.0f cpu_ns=%.0f client_ns=%.0f\n",
                    rps, p50, p99, u / hz * 1e9 / n, s / hz * 1e9 / n, (u + s) / hz * 1e9 / n,
                    (c[1] + c[2]) * 1e9 / n
        }'
}

declare -A RESULTS
for r in $(seq 1 "$ROUNDS"); do
    start_loopwire
    start_redis
    if [ $((r % 2)) = 1 ]; then ORDER=(loopwire redis); else ORDER=(redis loopwire); fi
    for pipe in $PIPELINES; do
        for t in $TESTS; do
            for s in "${ORDER[@]}"; do
                if [ "$s" = loopwire ]; then
                    line=$(measure "$LW_PID" "$LW_PORT" "$t" "$pipe")
                else
                    line=$(measure "$RD_PID" "$RD_PORT" "$t" "$pipe")
                fi
                [ -n "$line" ] || {
                    echo "round $r $s $t -P $pipe: no result" >&2
                    exit 1
                }
                echo "round $r $s $t -P $pipe: $line" >&2
                RESULTS[$s,$t,$pipe]+="$line"$'\n'
            done
        done
    done
    stop "$LW_PID"
    stop "$RD_PID"
done

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
med() { printf '%s' "${RESULTS[$1]}" | grep -o "$2=[0-9.]*" | cut -d= -f2 | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }
us() { awk -v n="$1" 'BEGIN { printf "%.2f", n / 1000 }'; }

REDIS_VERSION=$(redis-server --version | sed -n 's/.*v=\([0-9.]*\).*/\1/p')
echo
echo "resp: loopwire \`resp\` ($LOOPS loops, $BACKEND) vs redis-server $REDIS_VERSION (defaults: one main thread," \
    "io-threads 1; --save '' --appendonly no), redis-benchmark -c $CLIENTS -n $REQUESTS," \
    "$ROUNDS rounds interleaved, medians; $(nproc) cores shared by both servers and the load generator"
echo
echo "| test | -P | loopwire req/s | redis req/s | loopwire ÷ redis (req/s) | p50 ms loopwire / redis | p99 ms loopwire / redis | server CPU µs/req loopwire (user + sys) | redis (user + sys) | loopwire ÷ redis (CPU/req) | client CPU µs/req loopwire / redis | CPU-bound ceiling |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for pipe in $PIPELINES; do
    for t in $TESTS; do
        lw="loopwire,$t,$pipe"
        rd="redis,$t,$pipe"
        lrps=$(med "$lw" rps)
        rrps=$(med "$rd" rps)
        lc=$(med "$lw" cpu_ns)
        rc=$(med "$rd" cpu_ns)
        lcl=$(med "$lw" client_ns)
        rcl=$(med "$rd" client_ns)
        printf '| %s | %s | %.0f | %.0f | %s | %s / %s | %s / %s | %s (%s + %s) | %s (%s + %s) | %s | %s / %s | %s |\n' \
            "$(echo "$t" | tr a-z A-Z)" "$pipe" "$lrps" "$rrps" "$(ratio "$lrps" "$rrps")" \
            "$(med "$lw" p50_ms)" "$(med "$rd" p50_ms)" "$(med "$lw" p99_ms)" "$(med "$rd" p99_ms)" \
            "$(us "$lc")" "$(us "$(med "$lw" cpu_user_ns)")" "$(us "$(med "$lw" cpu_sys_ns)")" \
            "$(us "$rc")" "$(us "$(med "$rd" cpu_user_ns)")" "$(us "$(med "$rd" cpu_sys_ns)")" \
            "$(ratio "$lc" "$rc")" "$(us "$lcl")" "$(us "$rcl")" \
            "$(ratio "$(awk -v a="$rc" -v b="$rcl" 'BEGIN { print a + b }')" \
                "$(awk -v a="$lc" -v b="$lcl" 'BEGIN { print a + b }')")"
    done
done
