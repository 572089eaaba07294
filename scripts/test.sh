#!/usr/bin/env bash
# Runs every tickflow test. This is the README's test command, and CI runs it.
#
# It sets up what the tests need on a fresh machine:
# - the crates cargo fetches (the Rust toolchain must be installed);
# - a Python virtualenv with the Flight SQL client the cluster tests use (adbc-driver-flightsql,
#   pyarrow), in ~/.cache/tickflow-venv, passed to the tests as TICKFLOW_PYTHON;
# - object-storage servers for the object-store tests, started by tests/src/object_servers.rs:
#   moto (an S3 server; with boto3 and azure-storage-blob, the clients that create buckets and
#   containers) in the same virtualenv, passed as TICKFLOW_MOTO_SERVER, and Azurite (an Azure
#   Blob server, from npm; needs Node.js >= 18) in ~/.cache/tickflow-npm (TICKFLOW_NPM), passed
#   as TICKFLOW_AZURITE;
# - the binaries (tickflow, tickflow-scheduler, tickflow-executor): the cluster tests start them
#   as processes on 127.0.0.1.
# Python reference fixtures (DuckDB, pandas) are committed under tests/reference/.
set -euo pipefail
cd "$(dirname "$0")/.."

# The target directory outside the clone that scripts/demo.sh builds in too, and cargo itself.
. scripts/cargo-env.sh

if ! command -v python3 >/dev/null 2>&1; then
  echo "error: python3 is not installed; the Flight SQL test needs Python >= 3.9 (apt install python3 python3-venv)" >&2
  exit 1
fi
venv="${TICKFLOW_VENV:-$HOME/.cache/tickflow-venv}"
# Pinned, so every machine tests against the same clients and servers: the Flight SQL client
# (adbc-driver-flightsql, pyarrow), moto's S3 server and the clients that create buckets and
# containers (boto3, azure-storage-blob). A changed pin reinstalls (the stamp file).
python_packages="adbc-driver-flightsql==1.13.0 adbc-driver-manager==1.13.0 pyarrow==26.0.1 moto[server]==5.2.5 boto3==1.44.8 azure-storage-blob==12.31.1"
if [ "$(cat "$venv/.tickflow-packages" 2>/dev/null)" != "$python_packages" ] ||
   ! "$venv/bin/python" -c "import adbc_driver_flightsql.dbapi, pyarrow, moto.server, boto3, azure.storage.blob" >/dev/null 2>&1; then
  echo "setting up $venv ($python_packages) for the Flight SQL and object-store tests"
  if ! test -x "$venv/bin/python"; then
    python3 -m venv "$venv" || { echo "error: cannot create a virtualenv; apt install python3-venv" >&2; exit 1; }
  fi
  # shellcheck disable=SC2086
  "$venv/bin/pip" install --quiet --disable-pip-version-check $python_packages ||
    { echo "error: pip could not install $python_packages into $venv" >&2; exit 1; }
  echo "$python_packages" > "$venv/.tickflow-packages"
fi
export TICKFLOW_PYTHON="$venv/bin/python"
export TICKFLOW_MOTO_SERVER="$venv/bin/moto_server"

# Azurite, the Azure Blob server the object-store tests run (an npm package), pinned likewise.
npm_dir="${TICKFLOW_NPM:-$HOME/.cache/tickflow-npm}"
azurite="azurite@3.35.0"
if [ "$(cat "$npm_dir/.tickflow-packages" 2>/dev/null)" != "$azurite" ] ||
   ! test -x "$npm_dir/node_modules/.bin/azurite-blob"; then
  if ! command -v npm >/dev/null 2>&1 || ! command -v node >/dev/null 2>&1 ||
     ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)'; then
    echo "error: npm or node is missing or older than 18; the Azure object-store tests run Azurite: install Node.js >= 18 (apt install nodejs npm)" >&2
    exit 1
  fi
  echo "installing $azurite into $npm_dir for the object-store tests"
  mkdir -p "$npm_dir"
  npm install --prefix "$npm_dir" --no-audit --no-fund --loglevel=error "$azurite" ||
    { echo "error: npm could not install $azurite into $npm_dir" >&2; exit 1; }
  test -x "$npm_dir/node_modules/.bin/azurite-blob" ||
    { echo "error: $npm_dir/node_modules/.bin/azurite-blob is missing after npm install $azurite" >&2; exit 1; }
  echo "$azurite" > "$npm_dir/.tickflow-packages"
fi
export TICKFLOW_AZURITE="$npm_dir/node_modules/.bin/azurite-blob"

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
