#!/usr/bin/env bash
# Where the HTTP tail latency at one request in flight comes from: wrk (GET /plaintext, one
# request in flight per connection) against loopwire's `http` in several engine set-ups and
# tokio_http, rounds interleaved, with each server's scheduler statistics over the measured
# run: from /proc/PID/task/TID/schedstat, the time its threads spent runnable but waiting for a
# CPU (run-queue wait) and how often they were put on a CPU, and from .../status how often a
# thread was preempted (taken off a CPU while it still had work: `nonvoluntary_ctxt_switches`),
# per request. A loop thread preempted while its connections are ready shows up there, and its
# connections' requests as tail latency.
#
# Usage: examples/bench/tail.sh [ROUNDS] [SECONDS]
# Env:   CONNS (wrk -c, 100), WRK_THREADS (wrk -t, 1),
#        SETUPS (default "lw2 lw1 lw2-busy50 tokio2 tokio1"): lwN = loopwire with N loops,
#        lwN-busyU = the same with busy polling U µs (EngineBuilder::busy_poll), tokioN =
#        tokio_http with N worker threads; NICE (e.g. -20, as root: server and wrk run at
#        that niceness, ahead of the machine's other work, to tell the tail the other
#        processes cause from the one the set-up causes; default: unchanged).
# Prints a Markdown table of medians across rounds. Installs wrk with apt-get when missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

ROUNDS=${1:-3}
SECS=${2:-5}
CONNS=${CONNS:-100}
WRK_THREADS=${WRK_THREADS:-1}
SETUPS=${SETUPS:-"lw2 lw1 lw2-busy50 tokio2 tokio1"}
PRIO=()
[ -z "${NICE:-}" ] || PRIO=(nice -n "$NICE")

# shellcheck source=examples/bench/lib.sh
. examples/bench/lib.sh
need_tools wrk wrk
build_release -p loopwire-http --bin http -p loopwire-bench --bin tokio_http

# The command line of set-up $1.
command_of() {
    case $1 in
    lw*-busy*)
        local n=${1#lw} u=${1#*-busy}
        echo "$BIN/http --addr 127.0.0.1:0 --loops ${n%%-*} --busy-poll-us $u"
        ;;
    lw*) echo "$BIN/http --addr 127.0.0.1:0 --loops ${1#lw}" ;;
    tokio*) echo "$BIN/tokio_http --addr 127.0.0.1:0 --threads ${1#tokio}" ;;
    *)
        echo "unknown set-up '$1' (lwN, lwN-busyU, tokioN)" >&2
        exit 2
        ;;
    esac
}

# Sum over process $1's threads of schedstat's fields and of the preemptions:
# "CPU_NS WAIT_NS SLICES PREEMPTED".
schedstat() {
    local p
    p=$(cat /proc/"$1"/task/*/status 2>/dev/null |
        awk '/^nonvoluntary_ctxt_switches/ { n += $2 } END { print n + 0 }')
    cat /proc/"$1"/task/*/schedstat 2>/dev/null |
        awk -v p="$p" '{ c += $1; w += $2; s += $3 } END { printf "%d %d %d %d\n", c, w, s, p }'
}

# wrk's latency line for a percentile ($2, e.g. 99%) in its report $1, in µs.
pct_us() {
    awk -v p="$2" '$1 == p {
        v = $2; u = v; sub(/[0-9.]+/, "", u); sub(/[a-z]+$/, "", v)
        if (u == "ms") v *= 1000; else if (u == "s") v *= 1e6
        printf "%.0f", v }' <<<"$1"
}

declare -A RESULTS
for r in $(seq 1 "$ROUNDS"); do
    read -r -a order <<<"$SETUPS"
    if [ $((r % 2)) = 0 ]; then
        mapfile -t order < <(printf '%s\n' "${order[@]}" | tac)
    fi
    for s in "${order[@]}"; do
        out=$(mktemp)
        # shellcheck disable=SC2046 # the command is a word list
        "${PRIO[@]}" $(command_of "$s") >"$out" 2>/dev/null &
        pid=$!
        PIDS+=("$pid")
        port=$(announced_port "$out")
        rm -f "$out"
        [ -n "$port" ] || {
            echo "$s did not start" >&2
            exit 1
        }
        wrk -t"$WRK_THREADS" -c"$CONNS" -d1s "http://127.0.0.1:$port/plaintext" >/dev/null
        read -r c0 w0 s0 p0 < <(schedstat "$pid")
        report=$("${PRIO[@]}" wrk -t"$WRK_THREADS" -c"$CONNS" -d"$SECS"s --latency \
            "http://127.0.0.1:$port/plaintext")
        read -r c1 w1 s1 p1 < <(schedstat "$pid")
        stop "$pid"
        reqs=$(awk '/requests in/ { print $1 }' <<<"$report")
        rps=$(awk '/^Requests\/sec/ { printf "%.0f", $2 }' <<<"$report")
        line=$(awk -v n="$reqs" -v c=$((c1 - c0)) -v w=$((w1 - w0)) -v sl=$((s1 - s0)) \
            -v pr=$((p1 - p0)) 'BEGIN { printf "cpu_ns=%.0f wait_ns=%.0f slices_per_kreq=%.1f preempted_per_kreq=%.2f",
                c / n, w / n, sl * 1000 / n, pr * 1000 / n }')
        line="rps=$rps p50=$(pct_us "$report" 50%) p90=$(pct_us "$report" 90%) p99=$(pct_us "$report" 99%) $line"
        echo "round $r $s: $line" >&2
        RESULTS[$s]+="$line"$'\n'
    done
done

median() { sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
med() { printf '%s' "${RESULTS[$1]}" | grep -o "$2=[0-9.]*" | cut -d= -f2 | median; }

echo
echo "wrk -t$WRK_THREADS -c$CONNS -d${SECS}s GET /plaintext, one request in flight per connection," \
    "$ROUNDS rounds interleaved, medians; $(nproc) cores shared by server and wrk;" \
    "niceness ${NICE:-unchanged}"
echo
echo "| set-up | req/s | p50 µs | p90 µs | p99 µs | server CPU ns/req | run-queue wait ns/req | CPU slices per 1000 req | preempted per 1000 req |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
for s in $SETUPS; do
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' "$s" "$(med "$s" rps)" "$(med "$s" p50)" \
        "$(med "$s" p90)" "$(med "$s" p99)" "$(med "$s" cpu_ns)" "$(med "$s" wait_ns)" \
        "$(med "$s" slices_per_kreq)" "$(med "$s" preempted_per_kreq)"
done
