# Shared pieces of the bench scripts (sourced by echo.sh, http.sh, resp.sh and push.sh, not
# run on its own; they run from the repository root): the release build and where its binaries
# are, the tools a script needs, process bookkeeping with cleanup at exit, a bounded stop, CPU
# ticks from /proc, the port a loopwire example announces, a free port and a RESP readiness wait.

# Builds in release mode (cargo arguments: "$@", e.g. `-p loopwire-bench --bin loadgen`) and
# sets BIN to the directory of the release binaries: the workspace's target directory as cargo
# resolves it (CARGO_TARGET_DIR, a `build.target-dir` setting, or ./target).
build_release() {
    cargo build --release -q "$@"
    local dir
    dir=$(cargo metadata --format-version 1 --no-deps 2>/dev/null |
        sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
    BIN=${dir:-${CARGO_TARGET_DIR:-target}}/release
}

# need_tools PACKAGES COMMAND...: when a COMMAND is missing, installs the Debian PACKAGES
# (space-separated) with apt-get (as root, or through sudo); where that is not possible, says
# what is missing and exits.
need_tools() {
    local packages=$1 c missing=()
    shift
    for c in "$@"; do
        command -v "$c" >/dev/null || missing+=("$c")
    done
    [ ${#missing[@]} = 0 ] && return 0
    local sudo=""
    [ "$(id -u)" = 0 ] || sudo="sudo"
    if command -v apt-get >/dev/null && { [ -z "$sudo" ] || command -v sudo >/dev/null; }; then
        echo "$(basename "$0"): installing $packages (for ${missing[*]})" >&2
        # shellcheck disable=SC2086 # $packages is a list
        { $sudo timeout 300 apt-get update -qq &&
            $sudo env DEBIAN_FRONTEND=noninteractive timeout 300 \
                apt-get install -y -qq $packages >/dev/null; } || true
    fi
    for c in "${missing[@]}"; do
        command -v "$c" >/dev/null || {
            echo "$(basename "$0"): needs \`$c\` (Debian/Ubuntu: apt-get install $packages)" >&2
            exit 1
        }
    done
}

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
    # -s, 2>/dev/null: the file appears once the started process has opened it.
    for _ in $(seq 1 200); do
        grep -qs 'listening on' "$1" && break
        sleep 0.05
    done
    sed -n 's#.*listening on tcp://127.0.0.1:##p' "$1" 2>/dev/null | head -n1
}

# add_peers: the servers named in $PEERS (`NAME=COMMAND` entries separated by `;`), added to
# the caller's associative array CMD and array SERVERS; a malformed entry stops the script.
add_peers() {
    [ -n "${PEERS:-}" ] || return 0
    local peer name peer_list
    IFS=';' read -r -a peer_list <<<"$PEERS"
    for peer in "${peer_list[@]}"; do
        name=${peer%%=*}
        [ -n "$name" ] && [ "$name" != "$peer" ] || { echo "PEERS: '$peer' is not NAME=COMMAND" >&2; exit 2; }
        CMD[$name]=${peer#*=}
        SERVERS+=("$name")
    done
}

# A TCP port on 127.0.0.1 that nothing answers on (the server's own bind then confirms it).
free_port() {
    local p
    for _ in $(seq 1 50); do
        p=$((20000 + RANDOM % 30000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
            echo "$p"
            return
        fi
    done
    echo "no free port found" >&2
    exit 1
}

# Waits (at most $3 × 50 ms, default 200: 10 s) until a RESP server answers PING on port $1;
# fails if process $2 died.
resp_ready() {
    for _ in $(seq 1 "${3:-200}"); do
        kill -0 "$2" 2>/dev/null || return 1
        [ "$(timeout 1 redis-cli -p "$1" ping 2>/dev/null)" = PONG ] && return 0
        sleep 0.05
    done
    return 1
}
