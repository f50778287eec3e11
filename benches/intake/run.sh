#!/usr/bin/env bash
# The intake under abuse (issue 11): RSS with 50 parallel 25 MiB uploads,
# and 1,000 connections that send their bodies slowly, against an intake
# from BIN_DIR (default: this checkout's debug build) on its own database,
# Redis prefix and object folder. Usage: bash benches/intake/run.sh [BIN_DIR] [OUT_JSON]
# With STORAGE=s3 the intake stores on an S3-protocol server
# (atelier-s3-under-test from BIN_DIR: `cargo build -p atelier-tests --bin
# atelier-s3-under-test`) instead of its local folder.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN="${1:-${CARGO_TARGET_DIR:-target}/debug}"
OUT="${2:-.intake-bench/results.json}"
mkdir -p .intake-bench "$(dirname "$OUT")"
rm -rf .intake-bench/objects
# 1,000 sockets on each side.
ulimit -n 8192
psql postgres://postgres@127.0.0.1:5432/postgres -qc "DROP DATABASE IF EXISTS atelier_intake_bench" -c "CREATE DATABASE atelier_intake_bench"
# Built-in development keys (the script uses dev-api-key).
export ATELIER__DEV_MODE=true
export ATELIER__DATABASE__URL="postgres://postgres@127.0.0.1:5432/atelier_intake_bench"
export ATELIER__REDIS__PREFIX="atelier-intake-bench-$$"
export ATELIER__STORAGE__LOCAL_ROOT="$PWD/.intake-bench/objects"
PORT="${ATELIER_BENCH_PORT:-8093}"
export ATELIER__INTAKE__LISTEN="127.0.0.1:$PORT"
export ATELIER__STORAGE__PUBLIC_BASE_URL="http://127.0.0.1:$PORT"
S3=""
if [ "${STORAGE:-local}" = s3 ]; then
  S3_PORT="${ATELIER_BENCH_S3_PORT:-8094}"
  "$BIN/atelier-s3-under-test" "$PWD/.intake-bench/objects" atelier "127.0.0.1:$S3_PORT" >.intake-bench/s3.log 2>&1 &
  S3=$!
  export ATELIER__STORAGE__BACKEND=s3 ATELIER__STORAGE__S3__BUCKET=atelier \
    ATELIER__STORAGE__S3__ENDPOINT="http://127.0.0.1:$S3_PORT" ATELIER__STORAGE__S3__ALLOW_HTTP=true \
    ATELIER__STORAGE__S3__ACCESS_KEY_ID=test-access-key ATELIER__STORAGE__S3__SECRET_ACCESS_KEY=test-secret-key
  for _ in $(seq 1 50); do grep -q http .intake-bench/s3.log 2>/dev/null && break; sleep 0.1; done
fi
"$BIN/atelier-intake" >.intake-bench/intake.log 2>&1 &
INTAKE=$!
trap 'kill -TERM $INTAKE $S3 2>/dev/null; wait $INTAKE $S3 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.5; done
python3 benches/intake/abuse.py --port "$PORT" --pid "$INTAKE" --out "$OUT"
