#!/usr/bin/env bash
# Regenerate sqlx's offline query cache (.sqlx/) after changing a query or a
# migration. Needs a reachable PostgreSQL; builds afterwards need none.
set -euo pipefail
cd "$(dirname "$0")/.."
PGURL_BASE="${PGURL_BASE:-postgres://postgres@127.0.0.1:5432}"
DB="atelier_sqlx_prepare"
psql "$PGURL_BASE/postgres" -qc "DROP DATABASE IF EXISTS $DB" -c "CREATE DATABASE $DB"
for f in migrations/*.sql; do psql "$PGURL_BASE/$DB" -q -v ON_ERROR_STOP=1 -f "$f"; done
rm -rf .sqlx && mkdir .sqlx
touch crates/db/src/lib.rs
DATABASE_URL="$PGURL_BASE/$DB" SQLX_OFFLINE_DIR="$PWD/.sqlx" cargo check -q -p atelier-db
psql "$PGURL_BASE/postgres" -qc "DROP DATABASE $DB"
echo "wrote $(ls .sqlx | wc -l) queries to .sqlx/"
