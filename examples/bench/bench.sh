#!/usr/bin/env bash
# Thin wrapper around the benchmark harness (examples/bench/src/bin/bench.rs): every load, or
# one, against loopwire and its peers in one run; Markdown table on stdout, progress on stderr,
# SVG chart in examples/bench/results/bench.svg.
#
# Usage: examples/bench/bench.sh [all|echo|http|resp|idle] [--secs N] [--rounds N] [--peer ...]
# (`examples/bench/bench.sh all --help` lists every option.)
set -euo pipefail
cd "$(dirname "$0")/../.."
exec cargo run --release -q -p loopwire-bench --bin bench -- "${@:-all}"
