#!/usr/bin/env bash
# HTTP plaintext benchmark (TechEmpower style): loopwire's `http` server vs the same server on
# tokio's multi-thread runtime (`tokio_http` in loopwire-bench, same parser and responses), both driven
# by wrk on GET /plaintext, same run, rounds interleaved (within a round each load runs against
# one server, then the other, the order alternating between rounds); prints medians across
# rounds and ratios loopwire ÷ tokio as a Markdown table.
#
# Usage: examples/bench/http.sh [ROUNDS] [SECONDS]
# Env:   THREADS (server loops / tokio workers, default 2), CONNS (wrk -c, default 100),
#        WRK_THREADS (wrk -t, default 1), PIPELINES (default "1 16": requests in flight per
#        connection; above 1 a Lua script sends that many requests per write, as TechEmpower's
#        pipeline.lua), WARMUP (seconds of unmeasured wrk load after each server start, 1).
# Besides requests per second and wrk's p50 / p99 latency it reports each server process's
# CPU time per request (from /proc/PID/stat, user + system, over the measured wrk run).
# Installs wrk with apt-get when it is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS=${1:-3}
SECS=${2:-10}
THREADS=${THREADS:-2}
CONNS=${CONNS:-100}
WRK_THREADS=${WRK_THREADS:-1}
PIPELINES=${PIPELINES:-"1 16"}
WARMUP=${WARMUP:-1}
HZ=$(getconf CLK_TCK)

# shellcheck source=examples/bench/lib.sh
. examples/bench/lib.sh
need_tools wrk wrk
build_release -p loopwire-http --bin http -p loopwire-bench --bin tokio_http

WORK=$(mktemp -d)
AT_EXIT+=("rm -rf '$WORK'")

# Waits (at most 10 s) until the server on port $1 answers GET /plaintext with 200; fails if
# process $2 died.
wait_ready() {
    local reply
    for _ in $(seq 1 200); do
        kill -0 "$2" 2>/dev/null || return 1
        reply=$(timeout 1 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1 &&
            printf 'GET /plaintext HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n' >&3 &&
            cat <&3" 2>/dev/null || true)
        case "$reply" in
        "HTTP/1.1 200 OK"*"Hello, World!") return 0 ;;
        esac
        sleep 0.05
    done
    return 1
}

# Starts server $1 (loopwire | tokio) on a free port (port 0); sets SRV_PID and SRV_PORT.
start_server() {
    local out="$WORK/$1.out"
    case "$1" in
    loopwire) "$BIN/http" --addr 127.0.0.1:0 --loops "$THREADS" >"$out" 2>/dev/null & ;;
    tokio) "$BIN/tokio_http" --addr 127.0.0.1:0 --threads "$THREADS" >"$out" 2>/dev/null & ;;
    esac
    SRV_PID=$!
    PIDS+=("$SRV_PID")
    SRV_PORT=$(announced_port "$out")
    [ -n "$SRV_PORT" ] && wait_ready "$SRV_PORT" "$SRV_PID" || {
        echo "server $1 did not start" >&2
        exit 1
    }
}

# wrk against port $1 with pipeline depth $2 for $3 seconds; prints wrk's report.
run_wrk() {
    local args=(-t"$WRK_THREADS" -c"$CONNS" -d"$3"s --latency)
    if [ "$2" -gt 1 ]; then
        args+=(-s examples/bench/pipeline.lua "http://127.0.0.1:$1/plaintext" -- "$2")
    else
        args+=("http://127.0.0.1:$1/plaintext")
    fi
    timeout $(($3 + 30)) wrk "${args[@]}"
}

# One measured wrk run: server pid, port, pipeline depth -> one result line.
measure() {
    local pid=$1 port=$2 pipe=$3 u0 s0 u1 s1 report
    read -r u0 s0 < <(cpu_ticks "$pid")
    report=$(run_wrk "$port" "$pipe" "$SECS")
    read -r u1 s1 < <(cpu_ticks "$pid")
    if echo "$report" | grep -qE 'Non-2xx|Socket errors'; then
        echo "$report" | grep -E 'Non-2xx|Socket errors' | sed 's/^/    wrk: /' >&2
    fi
    # "  50%  123.45us", "  99%    1.23ms", "N requests in 5.00s, ...", "Requests/sec: N".
    # With a pipeline, wrk times whole batches and its percentiles sometimes come out as
    # 0.00us (wg/wrk#236, #354): those are reported as NA and left out of the medians.
    echo "$report" | awk -v u=$((u1 - u0)) -v s=$((s1 - s0)) -v hz="$HZ" '
        function us(v) {
            if (v ~ /us$/) return v + 0
            if (v ~ /ms$/) return v * 1000
            if (v ~ /s$/) return v * 1000000
            return v + 0
        }
        $1 == "50%" { p50 = us($2) }
        $1 == "99%" { p99 = us($2) }
        $2 == "requests" && $3 == "in" { n = $1 }
        $1 == "Requests/sec:" { rps = $2 }
        END {
            if (n > 0)
                printf "rps=%s p50_us=%s p99_us=%s cpu_user_ns=%.0f cpu_sys_ns=%.0f cpu_ns=%.0f requests=%d\n",
                    rps, (p50 > 0 ? sprintf("%.0f", p50) : "NA"), (p99 > 0 ? sprintf("%.0f", p99) : "NA"),
                    u / hz * 1e9 / n, s / hz * 1e9 / n, (u + s) / hz * 1e9 / n, n
        }'
}

echo "machine: $(nproc) cores, shared by both servers and wrk; $(uptime)" >&2
declare -A RESULTS
for r in $(seq 1 "$ROUNDS"); do
    start_server loopwire
    LW_PID=$SRV_PID LW_PORT=$SRV_PORT
    start_server tokio
    TK_PID=$SRV_PID TK_PORT=$SRV_PORT
    if [ $((r % 2)) = 1 ]; then ORDER=(loopwire tokio); else ORDER=(tokio loopwire); fi
    if [ "$WARMUP" -gt 0 ]; then
        run_wrk "$LW_PORT" 1 "$WARMUP" >/dev/null
        run_wrk "$TK_PORT" 1 "$WARMUP" >/dev/null
    fi
    for pipe in $PIPELINES; do
        for s in "${ORDER[@]}"; do
            if [ "$s" = loopwire ]; then
                line=$(measure "$LW_PID" "$LW_PORT" "$pipe")
            else
                line=$(measure "$TK_PID" "$TK_PORT" "$pipe")
            fi
            [ -n "$line" ] || {
                echo "round $r $s pipeline $pipe: no result" >&2
                exit 1
            }
            echo "round $r $s pipeline $pipe: $line" >&2
            RESULTS[$s,$pipe]+="$line"$'\n'
        done
    done
    stop "$LW_PID"
    stop "$TK_PID"
done
echo "after: $(uptime)" >&2

median() { sort -g | awk '{a[NR]=$1} END {print (NR == 0 ? "n/a" : NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
vals() { printf '%s' "${RESULTS[$1]}" | grep -oE "$2=[0-9.]+" | cut -d= -f2 || true; }
med() { vals "$1" "$2" | median; }
# A latency median, with "(k of ROUNDS)" when wrk gave no value in some rounds.
lat() {
    local k
    k=$(vals "$1" "$2" | grep -c . || true)
    if [ "$k" = "$ROUNDS" ]; then med "$1" "$2"; else echo "$(med "$1" "$2") ($k of $ROUNDS)"; fi
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", (b > 0 ? a / b : 0) }'; }

echo
echo "http plaintext: loopwire \`http\` ($THREADS loops) vs tokio_http ($THREADS worker threads)," \
    "wrk $(wrk -v 2>&1 | head -n1 | awk '{print $2}') -t$WRK_THREADS -c$CONNS -d${SECS}s GET /plaintext," \
    "$ROUNDS rounds interleaved, medians; $(nproc) cores shared by both servers and wrk" \
    "(latency: wrk's own percentiles, per batch when pipelined)"
echo
echo "| pipeline | server | req/s | p50 µs | p99 µs | server CPU ns/req (user + sys) | loopwire ÷ server (req/s) | server ÷ loopwire (CPU/req) |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|"
for pipe in $PIPELINES; do
    lrps=$(med "loopwire,$pipe" rps)
    lc=$(med "loopwire,$pipe" cpu_ns)
    for s in loopwire tokio; do
        k="$s,$pipe"
        rps=$(med "$k" rps)
        c=$(med "$k" cpu_ns)
        printf '| %s | %s | %.0f | %s | %s | %s (%s + %s) | %s | %s |\n' \
            "$pipe" "$s" "$rps" "$(lat "$k" p50_us)" "$(lat "$k" p99_us)" \
            "$c" "$(med "$k" cpu_user_ns)" "$(med "$k" cpu_sys_ns)" \
            "$(ratio "$lrps" "$rps")" "$(ratio "$c" "$lc")"
    done
done
