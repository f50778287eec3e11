#!/usr/bin/env bash
# Check the committed openapi.json against the OpenAPI 3.1 specification
# with an independent validator (openapi-spec-validator, PyPI, Apache-2.0),
# in a virtual environment under ~/.cache/atelier. The Rust tests check
# responses against the document; this checks the document itself.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="$HOME/.cache/atelier/openapi-venv"
if [ ! -x "$venv/bin/openapi-spec-validator" ]; then
  python3 -m venv "$venv"
  for attempt in 1 2 3; do
    "$venv/bin/pip" install --quiet openapi-spec-validator==0.9.0 && break
    [ "$attempt" = 3 ] && { echo "pip install openapi-spec-validator failed" >&2; exit 1; }
    sleep 5
  done
fi
"$venv/bin/openapi-spec-validator" openapi.json
