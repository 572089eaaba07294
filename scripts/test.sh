#!/usr/bin/env bash
# Runs every tickflow test. This is the README's test command, and CI runs it.
#
# It sets up what the tests need on a fresh machine: today that is only the Rust toolchain and the
# crates cargo fetches; Python reference fixtures are committed (see tests/reference/), so no
# Python package is needed to run the tests.
set -euo pipefail
cd "$(dirname "$0")/.."

# Reuse one target directory outside the clone: a clean debug build of DataFusion takes ~12 min.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tickflow-target}"

if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo is not installed; install Rust from https://rustup.rs (tickflow needs Rust >= 1.94)" >&2
  exit 1
fi

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
