#!/usr/bin/env bash
# Runs loopwire-poller's unit tests and conformance suite for x86_64-pc-windows-gnu under wine
# (the polling backend over IOCP; TCP and UDP cases). Usage, from the workspace root:
#   bash poller/ci/wine.sh
# Installs wine64 and the mingw-w64 linker from Debian if missing. Wine 8 (Debian bookworm)
# lacks bcryptprimitives.dll, which Rust's std imports for `ProcessPrng`; a ten-line shim
# (bcryptprimitives.c, over RtlGenRandom) is built with mingw and put in the wine prefix.
# Doc tests are not run (cross-target doctests need nightly's -Zdoctest-xcompile).
set -euo pipefail
cd "$(dirname "$0")/../.."

target=x86_64-pc-windows-gnu
target_dir=${CARGO_TARGET_DIR:-target}

if ! command -v x86_64-w64-mingw32-gcc >/dev/null || [ ! -x /usr/lib/wine/wine64 ]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        wine64 wine gcc-mingw-w64-x86-64 >/dev/null
fi
rustup target list --installed | grep -q "^${target}\$" || rustup target add "$target"

export WINEARCH=win64 WINEDEBUG=-all
export WINEPREFIX
WINEPREFIX=$(realpath -m "${target_dir}/wine-prefix")
if [ ! -d "$WINEPREFIX/drive_c/windows/system32" ]; then
    /usr/lib/wine/wine64 wineboot --init >/dev/null 2>&1 || true
    /usr/lib/wine/wineserver -w || true
fi
shim="$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll"
if [ ! -f "$shim" ]; then
    x86_64-w64-mingw32-gcc -shared -O2 -o "$shim" poller/ci/bcryptprimitives.c -ladvapi32
fi

export CARGO_TARGET_X86_64_PC_WINDOWS_GNU_RUNNER=/usr/lib/wine/wine64
cargo test -p loopwire-poller --target "$target" --locked --lib --tests
