#!/usr/bin/env bash
# Side-by-side queue benchmarks: this project and BullMQ on the same Redis, in
# one run, alternating so both see the same machine state. Figures and how to
# read them: benches/README.md.
#   bash benches/run.sh [JOBS] [LATENCY_SECONDS]
set -euo pipefail
cd "$(dirname "$0")/.."
JOBS="${1:-20000}"
SECONDS_="${2:-10}"
bash scripts/setup.sh >/dev/null
export SQLX_OFFLINE=true
cargo build --locked --release -q -p atelier-benches
BIN="${CARGO_TARGET_DIR:-target}/release/atelier-bench"
(cd benches/bullmq && npm install --silent --no-audit --no-fund)
echo "# $(date -u +%FT%TZ) $(nproc) cores, redis $(redis-cli info server | grep redis_version | tr -d '\r')"
for c in 1 16 64; do
  "$BIN" throughput --jobs "$JOBS" --concurrency "$c"
  node benches/bullmq/bench.mjs throughput "$JOBS" "$c"
done
"$BIN" latency --rate 500 --seconds "$SECONDS_" --concurrency 16
node benches/bullmq/bench.mjs latency 500 "$SECONDS_" 16
"$BIN" recovery
node benches/bullmq/bench.mjs recovery
