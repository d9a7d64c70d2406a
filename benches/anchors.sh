#!/usr/bin/env bash
# Issue 28's anchor benchmark: weir's statistics and ExampleGen against
# DuckDB, Polars and DataFusion on TPC-H lineitem made by tpchgen-cli, in one
# run (benches/anchors.py says what it times). Not part of CI.
#   benches/anchors.sh [--sf 1] [--csv-rows 1000000] [--runs 3] [--only stats]
# tpchgen-cli, duckdb and polars go into a virtualenv under bench-out/
# (WEIR_BENCH_VENV to put it elsewhere), never into the repository.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/weir-target}"
venv="${WEIR_BENCH_VENV:-bench-out/anchors-venv}"
mkdir -p bench-out
if ! "$venv/bin/python" -c "import duckdb, polars" 2>/dev/null || [ ! -x "$venv/bin/tpchgen-cli" ]; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet tpchgen-cli duckdb polars
fi
cargo build --locked --release -p weir-benches -p weir-scheduler -p weir-executor
exec "$venv/bin/python" benches/anchors.py --job "$CARGO_TARGET_DIR/release/bench_job" "$@"
