#!/usr/bin/env bash
# Whole-process comparison of tickflow with DuckDB, Polars and PySpark; see compare.py for what it does.
#   benches/compare/run.sh [--rows 10M,100M] [--runs 3] [--widths 1,9] [--layouts ordered,tape]
#                           [--engines tickflow,cluster,duckdb,polars,spark]  (needs Java 17 for PySpark)
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tickflow-target}"
cargo build --release --locked -p tickflow-cli -p tickflow-cluster
venv="${TICKFLOW_VENV:-$HOME/.cache/tickflow-venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -c "import duckdb, polars, pyarrow" 2>/dev/null \
  || "$venv/bin/pip" install --quiet duckdb polars pyarrow
"$venv/bin/python" -c "import pyspark" 2>/dev/null || "$venv/bin/pip" install --quiet pyspark
exec "$venv/bin/python" benches/compare/compare.py "$@"
