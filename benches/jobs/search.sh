#!/usr/bin/env bash
# Operators' job search at scale (issue 20's goal: any list or search page
# in p95 ≤ 50 ms with 1,000,000 job rows): ROWS generated rows in a
# database of their own, then the release intake's GET /v1/ops/jobs timed
# REPEAT times per query (curl's total time on loopback; the intake's
# answer is the whole of it). Figures: benches/README.md.
#   bash benches/jobs/search.sh [ROWS=1000000] [REPEAT=40]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS="${1:-1000000}"
REPEAT="${2:-40}"
. benches/jobs/rows.sh search "$ROWS"
PORT="${ATELIER_BENCH_PORT:-8096}"
export ATELIER__INTAKE__LISTEN="127.0.0.1:$PORT"
"$BIN/atelier-intake" >"$OUT/intake.log" 2>&1 &
INTAKE=$!
trap 'kill -TERM $INTAKE 2>/dev/null; wait $INTAKE 2>/dev/null || true' EXIT
API="http://127.0.0.1:$PORT"
for _ in $(seq 1 120); do curl -fs "$API/readyz" >/dev/null 2>&1 && break; sleep 0.5; done
echo "# $(date -u +%FT%TZ) $(nproc) cores, $ROWS rows, $(psql -At "$URL" -c 'show server_version')"
# A cursor ten pages deep, for the deep-page query.
cursor=""
for _ in $(seq 1 10); do
  cursor=$(curl -fs -H "Authorization: Bearer dev-operator-key" "$API/v1/ops/jobs?limit=50${cursor:+&cursor=$cursor}" | jq -r .next_cursor)
done
fragment=$(jq -rn --arg v "$(psql -At "$URL" -c "SELECT input->>'avatar_id' FROM jobs WHERE kind = 'photo.ingest' AND status = 'complete' OFFSET 42 LIMIT 1")" '{avatar_id: $v} | tostring | @uri')
time_query() { # name path
  local name=$1 path=$2 times bytes
  times=$(for _ in $(seq 1 "$REPEAT"); do
    curl -s -o /dev/null -w '%{time_total} %{size_download}\n' -H "Authorization: Bearer dev-operator-key" "$API$path"
  done)
  bytes=$(tail -1 <<<"$times" | cut -d' ' -f2)
  cut -d' ' -f1 <<<"$times" | sort -n | awk -v name="$name" -v bytes="$bytes" '
    { t[NR] = $1 * 1000 }
    END { printf "{\"query\": \"%s\", \"p50_ms\": %.1f, \"p95_ms\": %.1f, \"bytes\": %d}\n",
          name, t[int((NR - 1) * 0.5) + 1], t[int((NR - 1) * 0.95) + 1], bytes }'
}
time_query "newest 50" "/v1/ops/jobs?limit=50"
time_query "ten pages deep" "/v1/ops/jobs?limit=50&cursor=$cursor"
time_query "kind + status" "/v1/ops/jobs?kind=vision.pose&status=error&limit=50"
time_query "kind + status + input field" "/v1/ops/jobs?kind=photo.ingest&status=complete&input=$fragment&limit=50"
time_query "input field alone" "/v1/ops/jobs?input=$fragment&limit=50"
time_query "user" "/v1/ops/jobs?user_id=user-4242&limit=50"
time_query "client + error code" "/v1/ops/jobs?client_id=client-7&error_code=job.timeout&limit=50"
time_query "one job (inspector)" "/v1/ops/jobs/$(psql -At "$URL" -c 'SELECT id FROM jobs OFFSET 777 LIMIT 1')"
