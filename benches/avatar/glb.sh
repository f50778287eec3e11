#!/usr/bin/env bash
# GLB sizes against gltfpack on the same mesh: the avatar of a generated
# body (the hm08 test's, LOD0 of 25,000 triangles) written uncompressed and
# by us (KHR_mesh_quantization + EXT_meshopt_compression, each LOD), then
# the uncompressed one packed by gltfpack -cc (which drops the UVs no
# texture uses) and -cc -kv (keeps them, as ours does); every file through
# the Khronos validator. Usage: bash benches/avatar/glb.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=.avatar-bench/glb
rm -rf "$OUT" && mkdir -p "$OUT"
(cd benches/avatar && npm ci --silent --no-audit --no-fund)
(cd tests/gltf && npm ci --silent --no-audit --no-fund)
ATELIER_WRITE_GLB="$PWD/$OUT" cargo test -q -p atelier-body --test hm08 the_skin_becomes >/dev/null
PACK=benches/avatar/node_modules/.bin/gltfpack
"$PACK" -i "$OUT/plain.glb" -o "$OUT/gltfpack-cc.glb" -cc >/dev/null 2>&1
"$PACK" -i "$OUT/plain.glb" -o "$OUT/gltfpack-cc-kv.glb" -cc -kv >/dev/null 2>&1
echo "| file | bytes | validator errors / warnings | triangles (three.js) |"
echo "|---|---|---|---|"
for f in plain lod0 lod1 lod2 draco gltfpack-cc gltfpack-cc-kv; do
  node tests/gltf/check.mjs "$OUT/$f.glb" | python3 -c "
import json, os, sys
d = json.load(sys.stdin)
print(f\"| $f.glb | {os.path.getsize('$OUT/$f.glb')} | {d['validator']['errors']} / {d['validator']['warnings']} | {d['three'].get('triangles', d['three'].get('error'))} |\")"
done
