# Sourced by scripts/demo.sh and scripts/test.sh: the one target directory both build in, outside
# the clone (a clean debug build of DataFusion takes ~12 min), and a clear error without cargo.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tickflow-target}"
if ! command -v cargo >/dev/null 2>&1; then
  echo "error: cargo is not installed; install Rust from https://rustup.rs (tickflow needs Rust >= 1.94)" >&2
  exit 1
fi
