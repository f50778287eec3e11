# Sourced by the job search and console benchmarks: a release intake and
# ROWS generated job rows in a database of its own named NAME, with the
# intake's settings exported for it.
#   . benches/jobs/rows.sh NAME ROWS   (sets BIN, OUT, URL)
NAME="$1"
ROWS="$2"
bash scripts/setup.sh >/dev/null
export SQLX_OFFLINE=true
cargo build --locked --release -q --bin atelier-intake
BIN="${CARGO_TARGET_DIR:-target}/release"
OUT=".$NAME-bench"
mkdir -p "$OUT"
URL="postgres://postgres@127.0.0.1:5432/atelier_${NAME}_bench"
psql postgres://postgres@127.0.0.1:5432/postgres -qc "DROP DATABASE IF EXISTS atelier_${NAME}_bench" \
  -c "CREATE DATABASE atelier_${NAME}_bench"
export ATELIER__DEV_MODE=true
export ATELIER__DATABASE__URL="$URL"
export ATELIER__REDIS__PREFIX="atelier-$NAME-bench-$$"
export ATELIER__STORAGE__LOCAL_ROOT="$PWD/$OUT/objects"
export RUST_LOG=warn
"$BIN/atelier-intake" migrate
echo "generating $ROWS rows" >&2
# Six kinds, four end states, 20 clients, 50,000 users, one row a second
# back from now; failed rows carry an error code; every input names an
# upload and an avatar.
time psql -q "$URL" <<SQL
INSERT INTO jobs (id, kind, contract_version, queue, client_id, user_id, status,
                  attempts, request_hash, input, result, error_code, error_message,
                  created_at, updated_at, finished_at)
SELECT gen_random_uuid(), kind, 1, 'ingest', 'client-' || (i % 20), 'user-' || (i % 50000),
       status, 1, md5(i::text),
       jsonb_build_object('upload_id', md5(i::text)::uuid, 'avatar_id', md5((i / 3)::text)::uuid),
       CASE WHEN status = 'complete' THEN jsonb_build_object('width', 640 + i % 7, 'format', 'webp') END,
       CASE WHEN status IN ('error', 'dead') THEN (ARRAY['vision.no_person', 'job.timeout', 'job.worker_lost'])[1 + i % 3] END,
       CASE WHEN status IN ('error', 'dead') THEN 'generated' END,
       now() - make_interval(secs => i), now() - make_interval(secs => i),
       CASE WHEN status <> 'queued' THEN now() - make_interval(secs => i) END
  FROM (SELECT i,
               (ARRAY['photo.ingest', 'vision.segment', 'vision.pose', 'vision.tag', 'render.stills', 'export'])[1 + i % 6] AS kind,
               (ARRAY['complete', 'complete', 'complete', 'complete', 'complete', 'error', 'dead', 'queued'])[1 + abs(hashtext(i::text)) % 8] AS status
          FROM generate_series(1, $ROWS) i) g;
ANALYZE jobs;
SQL
