#!/usr/bin/env bash
# Runs every tickflow test. This is the README's test command, and CI runs it.
#
# It sets up what the tests need on a fresh machine:
# - the crates cargo fetches (the Rust toolchain must be installed);
# - a Python virtualenv with the Flight SQL client the cluster tests use (adbc-driver-flightsql,
#   pyarrow), in ~/.cache/tickflow-venv, passed to the tests as TICKFLOW_PYTHON;
# - the binaries (tickflow, tickflow-scheduler, tickflow-executor): the cluster tests start them
#   as processes on 127.0.0.1.
# Python reference fixtures (DuckDB, pandas) are committed under tests/reference/.
set -euo pipefail
cd "$(dirname "$0")/.."

# Reuse one target directory outside the clone: a clean debug build of DataFusion takes ~12 min.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tickflow-target}"

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo is not installed; install Rust from https://rustup.rs (tickflow needs Rust >= 1.94)" >&2
  exit 1
fi

if ! command -v python3 >/dev/null 2>&1; then
  echo "error: python3 is not installed; the Flight SQL test needs Python >= 3.9 (apt install python3 python3-venv)" >&2
  exit 1
fi
venv="${TICKFLOW_VENV:-$HOME/.cache/tickflow-venv}"
if ! "$venv/bin/python" -c "import adbc_driver_flightsql.dbapi, pyarrow" >/dev/null 2>&1; then
  echo "setting up $venv (adbc-driver-flightsql, pyarrow) for the Flight SQL test"
  python3 -m venv "$venv" || { echo "error: cannot create a virtualenv; apt install python3-venv" >&2; exit 1; }
  "$venv/bin/pip" install --quiet --disable-pip-version-check adbc-driver-flightsql pyarrow
fi
export TICKFLOW_PYTHON="$venv/bin/python"

# Cargo never deletes superseded test binaries (each links DataFusion and Ballista): drop the
# ones not rebuilt for 3 days so a reused target directory does not fill the disk.
find "$CARGO_TARGET_DIR/debug/deps" -maxdepth 1 -type f -perm -u+x -mtime +3 -delete 2>/dev/null || true

cargo build --workspace --bins --locked

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace --locked "$@" 2>&1 | tee "$log" || status=$?

# One closing line for the whole run: libtest's "test result" lines plus the sqllogictest
# runner's own "N passed, M failed" line.
awk '
  /^test result:/ { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i } }
  /^[0-9]+ passed, [0-9]+ failed$/ { p += $1; f += $3 }
  END { printf "total: %d passed, %d failed\n", p, f }
' "$log"
exit "$status"
