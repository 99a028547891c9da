# Shared pieces of the bench scripts (sourced by resp.sh and http.sh, not run on its own):
# process bookkeeping with cleanup at exit, a bounded stop, CPU ticks from /proc, and the
# port a loopwire example announces.

# Processes to stop at exit; `stop` removes one early. AT_EXIT: more commands for the exit.
PIDS=()
AT_EXIT=()
bench_cleanup() {
    local p c
    for p in "${PIDS[@]}"; do
        kill "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]}"; do
        wait "$p" 2>/dev/null || true
    done
    for c in "${AT_EXIT[@]}"; do
        eval "$c"
    done
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

# Stops process $1: SIGTERM, at most 5 s, then SIGKILL.
stop() {
    local keep=() p
    kill "$1" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    kill -9 "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
    for p in "${PIDS[@]}"; do
        [ "$p" = "$1" ] || keep+=("$p")
    done
    PIDS=("${keep[@]}")
}

# CPU time (user, system) process $1 has used so far, in clock ticks (fields 14 and 15 of
# /proc/PID/stat, counted after the command name, which may contain spaces).
cpu_ticks() { sed 's/^.*) //' "/proc/$1/stat" | awk '{print $12, $13}'; }

# The port a loopwire example started with `--addr 127.0.0.1:0` announced in its output
# file $1 (`listening on tcp://127.0.0.1:PORT`), waiting at most 10 s; empty if none.
announced_port() {
    for _ in $(seq 1 200); do
        grep -q 'listening on' "$1" && break
        sleep 0.05
    done
    sed -n 's#.*listening on tcp://127.0.0.1:##p' "$1" | head -n1
}
