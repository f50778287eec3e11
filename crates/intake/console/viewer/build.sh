#!/usr/bin/env bash
# Bundle the console's 3D viewer (viewer.js + three.js 0.187.0 from npm) into
# ../vendor/viewer.bundle.js and copy three's Draco decoder beside it; then
# print the checksums for ../vendor/VENDOR.md. Run after changing viewer.js
# or the pinned versions; the intake embeds the outputs (no Node at build).
set -euo pipefail
cd "$(dirname "$0")"
npm ci --silent --no-audit --no-fund
out=../vendor
mkdir -p "$out/draco"
npx esbuild viewer.js --bundle --format=esm --minify --legal-comments=eof \
  --target=es2020 --outfile="$out/viewer.bundle.js" --log-level=warning
cp node_modules/three/examples/jsm/libs/draco/draco_decoder.wasm \
   node_modules/three/examples/jsm/libs/draco/draco_wasm_wrapper.js "$out/draco/"
cp node_modules/three/LICENSE "$out/LICENSE-three"
(cd "$out" && sha256sum viewer.bundle.js draco/draco_decoder.wasm draco/draco_wasm_wrapper.js)
