#!/usr/bin/env bash
# Flows side by side (issue 19): a chain of N no-op jobs and a fan-out/fan-in
# 1 → N → 1, through this project (release intake + one worker, PostgreSQL,
# Redis) and through BullMQ 6.7's FlowProducer on the same Redis, alternating,
# ROUNDS times; then each node's release latency (its last dependency's end
# to its push into its queue) from the flows' rows. Figures: benches/README.md.
#   bash benches/flows/run.sh [N] [ROUNDS]
set -euo pipefail
cd "$(dirname "$0")/../.."
N="${1:-1000}"
ROUNDS="${2:-2}"
bash scripts/setup.sh >/dev/null
export SQLX_OFFLINE=true
cargo build --locked --release -q --bin atelier-intake --bin atelier-worker
BIN="${CARGO_TARGET_DIR:-target}/release"
(cd benches/bullmq && npm install --silent --no-audit --no-fund)
OUT=.flows-bench
mkdir -p "$OUT"
rm -rf "$OUT/objects"
DB=atelier_flows_bench
psql postgres://postgres@127.0.0.1:5432/postgres -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
# The shipped queues and the test-only no-op kind's own, as the tests have it.
cp queues.toml "$OUT/queues.toml"
cat >>"$OUT/queues.toml" <<'TOML'

[queues.staged]
kinds = ["test.staged"]
priority = "high"
concurrency = 16
prefetch = 16
max_attempts = 3
backoff = { initial = "1s", max = "1m", factor = 2.0, jitter = 0.2 }
lease = "9s"
timeout = "2m"
scaling = { min_workers = 1, max_workers = 8, target_latency = "10s" }
TOML
export ATELIER__DEV_MODE=true
export ATELIER__QUEUES_FILE="$OUT/queues.toml"
export ATELIER__DATABASE__URL="postgres://postgres@127.0.0.1:5432/$DB"
export ATELIER__REDIS__PREFIX="atelier-flows-bench-$$"
export ATELIER__STORAGE__LOCAL_ROOT="$PWD/$OUT/objects"
export ATELIER__INTAKE__TEST_KINDS=true ATELIER__WORKER__TEST_KINDS=true
export ATELIER__FLOWS__MAX_NODES=$((N + 2))
export ATELIER__INTAKE__MAX_JSON_BYTES=$((4 * 1024 * 1024))
PORT="${ATELIER_BENCH_PORT:-8095}"
export ATELIER__INTAKE__LISTEN="127.0.0.1:$PORT"
export ATELIER__STORAGE__PUBLIC_BASE_URL="http://127.0.0.1:$PORT"
export RUST_LOG=warn
"$BIN/atelier-intake" >"$OUT/intake.log" 2>&1 &
INTAKE=$!
ATELIER__WORKER__QUEUES=staged "$BIN/atelier-worker" >"$OUT/worker.log" 2>&1 &
WORKER=$!
trap 'kill -TERM $INTAKE $WORKER 2>/dev/null; wait $INTAKE $WORKER 2>/dev/null || true' EXIT
API="http://127.0.0.1:$PORT"
for _ in $(seq 1 120); do curl -fs "$API/readyz" >/dev/null 2>&1 && break; sleep 0.5; done
echo "# $(date -u +%FT%TZ) $(nproc) cores, redis $(redis-cli info server | grep redis_version | tr -d '\r'), $(psql -At postgres://postgres@127.0.0.1:5432/postgres -c 'show server_version')"
# A warm-up flow, not reported.
node benches/bullmq/flows.mjs atelier "$API" dev-api-key chain 50 >/dev/null
# The intake's own release histogram (the releasing transaction's start to
# the node's push): how many releases so far, and how many within 5 ms.
released() {
  curl -fs "$API/metrics" | awk '
    /^atelier_flow_release_latency_seconds_bucket\{kind="test.staged",le="0.005"\}/ { fast = $2 }
    /^atelier_flow_release_latency_seconds_count\{kind="test.staged"\}/ { all = $2 }
    END { print (all ? all : 0), (fast ? fast : 0) }'
}
declare -A PUSHED=([chain]="0 0" [fan]="0 0")
CHAINS=()
FANS=()
for _ in $(seq 1 "$ROUNDS"); do
  for shape in chain fan; do
    read -r all0 fast0 < <(released)
    line=$(node benches/bullmq/flows.mjs atelier "$API" dev-api-key "$shape" "$N")
    read -r all1 fast1 < <(released)
    echo "$line"
    read -r a f <<<"${PUSHED[$shape]}"
    PUSHED[$shape]="$((a + all1 - all0)) $((f + fast1 - fast0))"
    if [ "$shape" = chain ]; then CHAINS+=("$(jq -r .flow_id <<<"$line")"); else FANS+=("$(jq -r .flow_id <<<"$line")"); fi
    node benches/bullmq/flows.mjs bullmq "$shape" "$N"
  done
done
for shape in chain fan; do
  read -r a f <<<"${PUSHED[$shape]}"
  echo "{\"system\": \"atelier\", \"shape\": \"$shape\", \"pushed_within_5ms\": \"$f of $a\"}"
done
# Release latency from the rows: from the end of a node's last dependency
# (the start of the transaction that released it) to its being marked
# pushed (`enqueued_at`, one round trip after the push itself); and where a
# chain's hop goes (release, pickup by the worker, the no-op's run).
latency() { # shape flow-ids...
  local shape=$1; shift
  local ids
  ids=$(printf "'%s'," "$@")
  psql -At "$ATELIER__DATABASE__URL" -c "
    WITH released AS (
      SELECT j.id, j.enqueued_at, j.started_at, j.finished_at,
             extract(epoch FROM j.enqueued_at - max(d.finished_at)) * 1000 AS ms
        FROM jobs j JOIN flow_edges e ON e.job_id = j.id JOIN jobs d ON d.id = e.depends_on
       WHERE j.flow_id IN (${ids%,}) AND j.enqueued_at IS NOT NULL
       GROUP BY j.id)
    SELECT json_build_object('system', 'atelier', 'shape', '$shape', 'release_latency_ms', json_build_object(
      'nodes', count(*),
      'p50', round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2),
      'p99', round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2),
      'max', round(max(ms)::numeric, 2)),
      'mean_pickup_ms', round(avg(extract(epoch FROM started_at - enqueued_at) * 1000)::numeric, 2),
      'mean_run_ms', round(avg(extract(epoch FROM finished_at - started_at) * 1000)::numeric, 2))
      FROM released"
}
latency chain "${CHAINS[@]}"
latency fan "${FANS[@]}"
