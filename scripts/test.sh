#!/usr/bin/env bash
# The test command: set up the machine, then run every test in the workspace
# against real Redis, PostgreSQL, an S3-protocol server (s3s-fs, started by the
# tests themselves) and real worker processes.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The committed sqlx cache (.sqlx/) is used, so no database is needed to build.
export SQLX_OFFLINE=true
cargo test --workspace --locked "$@"
