#!/usr/bin/env bash
# The console at scale (issue 20: any list or search page in p95 <= 50 ms
# with 1,000,000 job rows): ROWS generated job rows and a day of queue
# history (one sample a minute per queue) in a database of their own, then
# the release intake's console pages timed REPEAT times each by curl on
# loopback (the intake's answer is the whole of it), signed in as an
# operator, and the bytes each page ships gzipped on a first visit (the
# HTML plus the style and scripts it loads; the 3D viewer loads only where
# a model is shown). Figures: benches/README.md.
#   bash benches/console/run.sh [ROWS=1000000] [REPEAT=40]
set -euo pipefail
cd "$(dirname "$0")/../.."
ROWS="${1:-1000000}"
REPEAT="${2:-40}"
. benches/jobs/rows.sh console "$ROWS"
psql -q "$URL" <<'SQL'
INSERT INTO queue_history (queue, at, depth, in_flight, dead, waiting, oldest_age_ms,
                           completed_total, failed_total, live_workers, service_time_ms)
SELECT q, now() - make_interval(mins => m), (m * 7) % 300, m % 9, m % 4, m % 5, (m * 311) % 60000,
       100000 - m * 40, 2000 - m, 3, 450 + m % 100
  FROM unnest(ARRAY['ingest', 'vision', 'avatar', 'render', 'export', 'notify']) q,
       generate_series(0, 1439) m;
ANALYZE queue_history;
SQL
PORT="${ATELIER_BENCH_PORT:-8097}"
export ATELIER__INTAKE__LISTEN="127.0.0.1:$PORT"
"$BIN/atelier-intake" >"$OUT/intake.log" 2>&1 &
INTAKE=$!
trap 'kill -TERM $INTAKE 2>/dev/null; wait $INTAKE 2>/dev/null || true' EXIT
SITE="http://127.0.0.1:$PORT"
for _ in $(seq 1 120); do curl -fs "$SITE/readyz" >/dev/null 2>&1 && break; sleep 0.5; done
JAR="$OUT/cookies"
curl -fs -o /dev/null -c "$JAR" -d key=dev-operator-key "$SITE/console/sign-in"
echo "# $(date -u +%FT%TZ) $(nproc) cores, $ROWS rows, $(psql -At "$URL" -c 'show server_version')"
avatar=$(psql -At "$URL" -c "SELECT input->>'avatar_id' FROM jobs WHERE kind = 'photo.ingest' AND status = 'complete' OFFSET 42 LIMIT 1")
job=$(psql -At "$URL" -c 'SELECT id FROM jobs OFFSET 777 LIMIT 1')
# A cursor ten pages deep, from the page's own "Older" link.
deep="/console/jobs"
for _ in $(seq 1 10); do
  deep=$(curl -fs -b "$JAR" "$SITE$deep" | grep -o 'rel="next" href="[^"]*"' | sed 's/.*href="//; s/"$//; s/&amp;/\&/g')
done
gz() { # bytes of a URL as shipped gzipped
  curl -fs -b "$JAR" --compressed -o /dev/null -w '%{size_download}' -H 'Accept-Encoding: gzip' "$SITE$1"
}
time_page() { # name path
  local name=$1 path=$2 times html assets=0 url
  times=$(for _ in $(seq 1 "$REPEAT"); do
    curl -s -b "$JAR" -o /dev/null -w '%{time_total} %{http_code}\n' "$SITE$path"
  done)
  if grep -qv ' 200$' <<<"$times"; then echo "$name: not 200: $(sort -u <<<"$times" | head -3)" >&2; exit 1; fi
  html=$(gz "$path")
  page=$(curl -fs -b "$JAR" "$SITE$path")
  for url in $(grep -o '/console/assets/[a-z.]*?v=[0-9a-f]*' <<<"$page" | sort -u); do
    # The JSON of lazily loaded URLs lists the viewer too: count it only
    # where a model is shown, uPlot only where charts are.
    case "$url" in
      */viewer.js*|*/draco*) grep -q 'data-viewer' <<<"$page" || continue ;;
      */uplot*) grep -q 'data-chart' <<<"$page" || continue ;;
    esac
    assets=$((assets + $(gz "$url")))
  done
  cut -d' ' -f1 <<<"$times" | sort -n | awk -v name="$name" -v html="$html" -v assets="$assets" '
    { t[NR] = $1 * 1000 }
    END { printf "{\"page\": \"%s\", \"p50_ms\": %.1f, \"p95_ms\": %.1f, \"html_gzip_bytes\": %d, \"first_visit_gzip_bytes\": %d}\n",
          name, t[int((NR - 1) * 0.5) + 1], t[int((NR - 1) * 0.95) + 1], html, html + assets }'
}
time_page "queues" "/console/queues"
time_page "queue (24 h charts, dead letters)" "/console/queues/ingest"
time_page "jobs: newest 50" "/console/jobs"
time_page "jobs: ten pages deep" "$deep"
time_page "jobs: kind + status + input field" "/console/jobs?kind=photo.ingest&status=complete&input_path=avatar_id&input_value=$avatar"
time_page "jobs: user" "/console/jobs?user_id=user-4242"
time_page "inspector" "/console/jobs/$job"
time_page "audit log" "/console/audit"
