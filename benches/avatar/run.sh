#!/usr/bin/env bash
# The avatar benchmark: generated bodies with known measurements,
# photographed by the project's renderer (atelier-studio), built through the
# public API by an intake and a worker from BIN_DIR (default: this
# checkout's debug build) on their own database, Redis prefix and object
# folder; prints per-measurement bias, MAE, p90 and interval coverage, and
# stage latencies. Usage: bash benches/avatar/run.sh [BIN_DIR] [BODIES] [OUT_JSON] [FIRST]
# (bodies FIRST.., default 100: not the 12 the inseam line was fitted on).
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN="${1:-${CARGO_TARGET_DIR:-target}/debug}"
BODIES="${2:-30}"
OUT="${3:-.avatar-bench/results.json}"
mkdir -p .avatar-bench "$(dirname "$OUT")"
rm -rf .avatar-bench/objects .avatar-bench/photos
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}" WGPU_BACKEND="${WGPU_BACKEND:-vulkan}"
"$BIN/atelier-studio" .avatar-bench/photos "$BODIES" "${4:-100}" 2>.avatar-bench/studio.log
psql postgres://postgres@127.0.0.1:5432/postgres -qc "DROP DATABASE IF EXISTS atelier_avatar_bench" -c "CREATE DATABASE atelier_avatar_bench"
# Built-in development keys (the scorer uses dev-api-key).
export ATELIER__DEV_MODE=true
export ATELIER__DATABASE__URL="postgres://postgres@127.0.0.1:5432/atelier_avatar_bench"
export ATELIER__REDIS__PREFIX="atelier-avatar-bench-$$"
export ATELIER__STORAGE__LOCAL_ROOT="$PWD/.avatar-bench/objects"
PORT="${ATELIER_BENCH_PORT:-8092}"
export ATELIER__INTAKE__LISTEN="127.0.0.1:$PORT"
export ATELIER__STORAGE__PUBLIC_BASE_URL="http://127.0.0.1:$PORT"
"$BIN/atelier-intake" >.avatar-bench/intake.log 2>&1 &
INTAKE=$!
"$BIN/atelier-worker" >.avatar-bench/worker.log 2>&1 &
WORKER=$!
trap 'kill -TERM $INTAKE $WORKER 2>/dev/null; wait $INTAKE $WORKER 2>/dev/null || true' EXIT
for _ in $(seq 1 240); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.5; done
python3 benches/avatar/score.py --api "http://127.0.0.1:$PORT" --photos .avatar-bench/photos --out "$OUT"
