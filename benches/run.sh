#!/usr/bin/env bash
# Builds the benchmarks in release mode and runs them. Not part of CI.
#   benches/run.sh [--rows N] [--level L]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/weir-target}"
cargo build --locked --release -p weir-benches -p weir-scheduler -p weir-executor
"$CARGO_TARGET_DIR/release/examplegen_bench" --dir bench-out "$@"
"$CARGO_TARGET_DIR/release/stats_bench" --dir bench-out
"$CARGO_TARGET_DIR/release/transform_bench" --dir bench-out
"$CARGO_TARGET_DIR/release/cluster_bench" --dir bench-out
