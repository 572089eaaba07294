#!/usr/bin/env bash
# One 1-minute bar query on generated trades, three ways, in one run: local DataFusion,
# `--standalone` (in-process Ballista scheduler + executor) and a cluster of 1 scheduler and 2
# executors as processes on 127.0.0.1. Prints the wall times and their ratios to local.
#
#   benches/engines.sh [ROWS]        # default 10M; release build; data cached in ~/.cache
#
# A measurement, not a test: the numbers move with the machine's load. Report ratios from one run.
set -euo pipefail
cd "$(dirname "$0")/.."
rows="${1:-10M}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/tickflow-target}"
cargo build --release --locked -p tickflow-cli -p tickflow-cluster
bin="$CARGO_TARGET_DIR/release"
data="$HOME/.cache/tickflow-bench/trades-$rows"
if [ ! -d "$data" ]; then
  "$bin/tickflow" gen --rows "$rows" --days 5 --symbols 500 --out "$data"
fi
work="$(mktemp -d)"
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

port=50450
"$bin/tickflow-scheduler" --bind-host 127.0.0.1 --bind-port $port --min-ready-executors 2 \
  >"$work/scheduler.log" 2>&1 & pids+=($!)
for i in 1 2; do
  "$bin/tickflow-executor" --bind-host 127.0.0.1 --scheduler-host 127.0.0.1 --scheduler-port $port \
    --bind-port $((port + 10 * i)) --bind-grpc-port $((port + 10 * i + 1)) \
    --bind-health-port $((port + 10 * i + 2)) --work-dir "$work/e$i" \
    >"$work/executor$i.log" 2>&1 & pids+=($!)
done
for _ in $(seq 100); do
  curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done

query="SELECT symbol, time_bucket(INTERVAL '1 minute', ts) AS bar, ohlc(ts, price, seq) AS ohlc,
  vwap(price, size) AS vwap, bar_std(price) AS std, total_volume(size) AS volume, count(*) AS n
  FROM '$data/' GROUP BY 1, 2"
# Every bar column feeds the outer aggregate, so the optimizer cannot drop any of them.
sql="SELECT count(*) AS bars, sum(n) AS trades, sum(volume) AS volume, sum(vwap) AS vwap,
  sum(std) AS std, max(ohlc['high']) AS high, min(ohlc['low']) AS low,
  sum(ohlc['open']) AS opens, sum(ohlc['close']) AS closes FROM ($query)"

run() { # engine flags...
  local start end
  start=$(date +%s.%N)
  "$bin/tickflow" --catalog "$work/catalog.json" "$@" sql --format csv -c "$sql" >"$work/out.csv"
  end=$(date +%s.%N)
  echo "$end - $start" | bc
}
local_s=$(run)
standalone_s=$(run --standalone)
cluster_s=$(run --cluster "df://127.0.0.1:$port")
echo "rows: $rows   result: $(tail -1 "$work/out.csv")"
printf '%-28s %8.2f s   1.00x\n' "local" "$local_s"
printf '%-28s %8.2f s   %.2fx\n' "standalone" "$standalone_s" "$(echo "$standalone_s / $local_s" | bc -l)"
printf '%-28s %8.2f s   %.2fx\n' "cluster (2 executors)" "$cluster_s" "$(echo "$cluster_s / $local_s" | bc -l)"
