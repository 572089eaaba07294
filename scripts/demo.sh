#!/usr/bin/env bash
# The README's first command: builds `tickflow` and runs `tickflow demo` (generates 200k trades,
# ingests them, runs the sql/ pipeline, prints bars). Arguments go to `tickflow demo`.
#
# It builds in the same target directory as scripts/test.sh, and the workspace resolves the same
# features for both (root Cargo.toml, "Feature unification"), so whichever runs first compiles
# DataFusion and the other reuses it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/cargo-env.sh
exec cargo run --locked -p tickflow-cli -- demo "$@"
