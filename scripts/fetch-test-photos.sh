#!/usr/bin/env bash
# Test-only photos that no permissively licensed registry package carries:
# full-body people. `bus.jpg` (several people standing full-body in a
# street) ships inside the PyPI wheel ultralytics==8.3.40, an AGPL-3.0
# package: it is fetched here for the tests (the avatar's real-photo and
# several-people cases), never committed, never shipped in a release.
set -euo pipefail
cd "$(dirname "$0")/.."
DEST="${ATELIER_TEST_PHOTOS_DIR:-$HOME/.cache/atelier/test-photos}"
WHEEL=ultralytics-8.3.40-py3-none-any.whl
WHEEL_SHA=68eab78f4bdcd7ab2f62f5fe5a394958dd8507c47359a7f7930ab617ffba4302
BUS_SHA=c02019c4979c191eb739ddd944445ef408dad5679acab6fd520ef9d434bfbc63
mkdir -p "$DEST"
if [ -f "$DEST/bus.jpg" ] && echo "$BUS_SHA  $DEST/bus.jpg" | sha256sum -c --status; then
  echo "==> test photos present: $DEST"; exit 0
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
echo "==> fetching $WHEEL from PyPI (AGPL-3.0; its bus.jpg is a test fixture only)"
python3 -m pip download --quiet --no-deps --only-binary=:all: -d "$tmp" ultralytics==8.3.40
echo "$WHEEL_SHA  $tmp/$WHEEL" | sha256sum -c --status || { echo "wheel checksum mismatch" >&2; exit 1; }
python3 - "$tmp/$WHEEL" "$DEST/bus.jpg" <<'PY'
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, open(sys.argv[2], "wb") as out:
    out.write(z.read("ultralytics/assets/bus.jpg"))
PY
echo "$BUS_SHA  $DEST/bus.jpg" | sha256sum -c --status || { echo "bus.jpg checksum mismatch" >&2; exit 1; }
echo "==> test photos in $DEST (bus.jpg: from the AGPL-3.0 ultralytics wheel, tests only)"
