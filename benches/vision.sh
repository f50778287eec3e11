#!/usr/bin/env bash
# Vision benchmarks, side by side in one run: each model's job path in this
# project and in Python onnxruntime (same ONNX Runtime version, same thread
# count, same photo), classifier micro-batching, and search over 100k items.
# Figures and how to read them: benches/README.md.
#   bash benches/vision.sh [PHOTO] [ITERATIONS] [THREADS]
set -euo pipefail
cd "$(dirname "$0")/.."
PHOTO="${1:-samples/astronaut.png}"
ITERATIONS="${2:-30}"
THREADS="${3:-2}"
bash scripts/setup.sh >/dev/null
export SQLX_OFFLINE=true
cargo build --locked --release -q -p atelier-vision-bench
BIN="${CARGO_TARGET_DIR:-target}/release/atelier-vision-bench"
VENV="${ATELIER_BENCH_VENV:-$HOME/.cache/atelier/bench-venv}"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/pip" install -q onnxruntime==1.31.1 numpy pillow
echo "# $(date -u +%FT%TZ) $(nproc) cores, photo $PHOTO, $ITERATIONS iterations, $THREADS threads"
"$BIN" models --photo "$PHOTO" --iterations "$ITERATIONS" --threads "$THREADS"
"$VENV/bin/python" benches/python/vision_bench.py "$PHOTO" "$ITERATIONS" "$THREADS" \
  "${ATELIER_MODELS_DIR:-$HOME/.cache/atelier/models}"
"$BIN" search --items 100000 --dim 1280 --queries 50
"$BIN" search --items 100000 --dim 384 --queries 50
