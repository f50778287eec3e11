#!/usr/bin/env bash
# The demo: set up, build, run the intake API and a worker on the embedded
# defaults (local object storage under .demo/objects), ingest and analyse the
# sample photos shipped in samples/, render a design of two glTF models
# (stills and a turntable video), build an avatar from front and side photos
# of a generated body (rendered by atelier-studio, its true measurements
# known) and from a sample portrait (refused: no feet in it), run the whole
# platform pipeline as one flow (photos → avatar → turntable and stills of
# the avatar → PDF sheet → one e-mail to a local SMTP sink), printing the
# flow's tree as it moves, and print where every result is.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export SQLX_OFFLINE=true
echo "==> building (first build takes several minutes)" >&2
cargo build --locked -q --bin atelier-intake --bin atelier-worker --bin atelier-studio --bin atelier-ctl
BIN="${CARGO_TARGET_DIR:-target}/debug"

export ATELIER__DATABASE__URL="postgres://postgres:postgres@127.0.0.1:5432/atelier_demo"
export ATELIER__REDIS__PREFIX="atelier-demo"
export ATELIER__STORAGE__LOCAL_ROOT="$PWD/.demo/objects"
PORT="${ATELIER_DEMO_PORT:-8080}"
export ATELIER__INTAKE__LISTEN="127.0.0.1:$PORT"
export ATELIER__STORAGE__PUBLIC_BASE_URL="http://127.0.0.1:$PORT"
# The demo runs on the built-in development secrets (API key dev-api-key):
# outside development mode the intake and workers refuse to start on them.
export ATELIER__DEV_MODE=true
echo "==> DEVELOPMENT MODE (ATELIER__DEV_MODE=true): built-in keys and secrets, for this machine only" >&2
API="http://127.0.0.1:$PORT"
KEY="dev-api-key"
mkdir -p .demo
# A local SMTP server keeping what it accepts (.demo/maildir): where the
# flow's e-mail goes.
SMTP_PORT="${ATELIER_DEMO_SMTP_PORT:-2525}"
/usr/bin/python3 -m aiosmtpd -n -l "127.0.0.1:$SMTP_PORT" -c aiosmtpd.handlers.Mailbox .demo/maildir >.demo/smtp.log 2>&1 &
SMTP=$!
export ATELIER__EMAIL__SMTP_URL="smtp://127.0.0.1:$SMTP_PORT"

"$BIN/atelier-intake" >.demo/intake.log 2>&1 &
INTAKE=$!
"$BIN/atelier-worker" >.demo/worker.log 2>&1 &
WORKER=$!
trap 'kill -TERM $INTAKE $WORKER $SMTP 2>/dev/null; wait $INTAKE $WORKER $SMTP 2>/dev/null || true' EXIT

for _ in $(seq 1 60); do curl -fs "$API/readyz" >/dev/null 2>&1 && break; sleep 0.5; done
curl -fs "$API/readyz" >/dev/null || { echo "intake did not become ready; see .demo/intake.log" >&2; exit 1; }
curl -fs "$API/openapi.json" | jq -r --arg api "$API" \
  '"API contract: OpenAPI \(.openapi), \(.paths | length) routes, \(.components.schemas | length) schemas at \($api)/openapi.json"'

# One end user per run: the demo database keeps earlier runs, and the
# similarity search below looks at this run's photos only.
USER_ID="demo-user-$(date +%s)"
declare -A EMBEDDED=()
FIRST_EMBED=""
wait_job() { # job_id -> prints the final job view
  local view status
  for _ in $(seq 1 1200); do
    view=$(curl -fs -H "Authorization: Bearer $KEY" "$API/v1/jobs/$1")
    status=$(jq -r .status <<<"$view")
    case "$status" in complete|error|dead) break ;; esac
    sleep 0.25
  done
  echo "$view"
}

for photo in samples/*.jpg samples/*.png tests/data/eval/photos/pair-kafka-hopper.jpg; do
  upload=$(curl -fs -H "Authorization: Bearer $KEY" -H "X-User-Id: $USER_ID" \
    -H "Content-Type: application/octet-stream" --data-binary "@$photo" "$API/v1/uploads")
  upload_id=$(jq -r .upload_id <<<"$upload")
  job=$(curl -fs -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \
    -d "{\"kind\":\"photo.ingest\",\"user_id\":\"$USER_ID\",\"input\":{\"upload_id\":\"$upload_id\"}}" "$API/v1/jobs")
  job_id=$(jq -r .job_id <<<"$job")
  view=$(wait_job "$job_id")
  status=$(jq -r .status <<<"$view")
  echo
  echo "$photo -> job $job_id: $status"
  if [ "$status" = complete ]; then
    jq -r '.result | "  exif: \(.exif | tostring)",
      "  original   \(.original.width)x\(.original.height) \(.original.format)  .demo/objects/\(.original.key)",
      (.variants[] | "  variant    \(.width)x\(.height) \(.format)  .demo/objects/\(.key)"),
      "  thumbnail  \(.thumbnail.width)x\(.thumbnail.height)  .demo/objects/\(.thumbnail.key)",
      "  signed URL of the thumbnail (valid 15 min while the intake runs): \(.thumbnail.url)"' <<<"$view"
  else
    jq '.error' <<<"$view"
  fi
  submit() { # kind -> job id
    curl -fs -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \
      -d "{\"kind\":\"$1\",\"user_id\":\"$USER_ID\",\"input\":{\"upload_id\":\"$upload_id\"}}" "$API/v1/jobs" | jq -r .job_id
  }
  view=$(wait_job "$(submit vision.pose)")
  if [ "$(jq -r .status <<<"$view")" = complete ]; then
    jq -r '.result | "  pose: \(.person_count) person(s), primary score \(.score * 100 | round)%, " +
      ([.keypoints[] | select(.name == "nose" or .name == "left_shoulder" or .name == "right_shoulder")
        | "\(.name) (\(.x | round), \(.y | round))"] | join(", "))' <<<"$view"
  else
    jq -r '"  pose: \(.error.code): \(.error.message)"' <<<"$view"
  fi
  view=$(wait_job "$(submit vision.segment)")
  if [ "$(jq -r .status <<<"$view")" = complete ]; then
    jq -r '.result | "  segment: person covers \(.coverage * 100 | round)%, cut-out .demo/objects/\(.cutout.key)"' <<<"$view"
  else
    jq -r '"  segment: \(.error.code)"' <<<"$view"
  fi
  view=$(wait_job "$(submit vision.skin_tone)")
  if [ "$(jq -r .status <<<"$view")" = complete ]; then
    jq -r '.result | "  skin tone: Monk \(.monk.scale) (\(.monk.hex)), measured \(.hex), ITA \(.ita | round)° \(.ita_category), \(.undertone), \(.palette.sub_season), confidence \(.confidence * 100 | round)% (face found by \(.face.located_by))"' <<<"$view"
  else
    jq -r '"  skin tone: \(.error.code)"' <<<"$view"
  fi
  embed_id=$(submit vision.embed)
  view=$(wait_job "$embed_id")
  jq -r '.result | "  embed: \(.dim)-d \(.modality) vector (\(.model.name))"' <<<"$view"
  EMBEDDED[$embed_id]="$photo"
  FIRST_EMBED="${FIRST_EMBED:-$embed_id}"
  view=$(wait_job "$(submit vision.tag)")
  jq -r '.result | "  tag: " + ([.categories[] | "\(.category) \(.score * 100 | round)%"] | join(", ")) +
    " | top class \(.imagenet_top5[0].label) | colours " + ([.colours[] | "\(.name) \(.hex)"] | join(", ")) +
    " | \(.season.season): \(.season.reason)"' <<<"$view"
done
echo
search=$(curl -fs -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \
  -d "{\"job_id\":\"$FIRST_EMBED\",\"k\":3,\"user_id\":\"$USER_ID\"}" "$API/v1/search/similar")
echo "Photos most like ${EMBEDDED[$FIRST_EMBED]} (POST /v1/search/similar):"
while read -r id score; do
  echo "  ${EMBEDDED[$id]}  cosine $score"
done < <(jq -r '.results[] | "\(.job_id) \(.score * 1000 | round / 1000)"' <<<"$search")

# A design of two uploaded glTF models (the procedural dress and hat in
# tests/data/models): stills from three cameras, then a 72-frame turntable.
echo
upload_file() { # path -> upload id
  curl -fs -H "Authorization: Bearer $KEY" -H "X-User-Id: $USER_ID" \
    -H "Content-Type: model/gltf-binary" --data-binary "@$1" "$API/v1/uploads" | jq -r .upload_id
}
dress=$(upload_file tests/data/models/dress.glb)
hat=$(upload_file tests/data/models/hat.glb)
design=$(jq -n --arg d "$dress" --arg h "$hat" --arg id "$(cat /proc/sys/kernel/random/uuid)" '{
  design_id: $id, name: "Summer look", background: "#f4f1ec",
  items: [{source: {upload_id: $d}},
          {source: {upload_id: $h}, transform: {translation: [0, 1.42, 0], scale: [0.8, 0.8, 0.8]},
           material: {base_colour: "#1f2a5a"}}]}')
submit_json() { # kind input-json -> job id
  curl -fs -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" \
    -d "$(jq -n --arg k "$1" --arg u "$USER_ID" --argjson i "$2" '{kind: $k, user_id: $u, input: $i}')" \
    "$API/v1/jobs" | jq -r .job_id
}
view=$(wait_job "$(submit_json render.stills "$(jq -n --argjson d "$design" '{design: $d, cameras: ["front", "back", "three_quarter"]}')")")
echo "Design \"Summer look\" (dress + hat) -> render.stills: $(jq -r .status <<<"$view")"
jq -r '(.result.renders[]? | "  \(.camera) \(.width)x\(.height) \(.format)  .demo/objects/\(.key)"),
  (.error // empty | "  \(.code): \(.message)")' <<<"$view"
view=$(wait_job "$(submit_json render.turntable "$(jq -n --argjson d "$design" '{design: $d}')")")
echo "-> render.turntable: $(jq -r .status <<<"$view")"
jq -r '(.result.videos[]? | "  \(.format) \(.codec) \(.width)x\(.height) \(.frames) frames \(.duration_s)s \(.bytes / 1024 | round) KiB  .demo/objects/\(.key)"),
  (.result.timings_ms // empty | "  timings (ms): \(tostring)"),
  (.error // empty | "  \(.code): \(.message)")' <<<"$view"
for type in pdf model; do
  view=$(wait_job "$(submit_json export "$(jq -n --argjson d "$design" --arg t "$type" '{design: $d, type: $t}')")")
  echo "-> export $type: $(jq -r .status <<<"$view")"
  jq -r '(.result.file? // empty | "  \(.format) \(.bytes / 1024 | round) KiB  .demo/objects/\(.key)"),
    (.error // empty | "  \(.code): \(.message)")' <<<"$view"
done

# An avatar: front and side photos of a generated body (the studio renders
# it with the project's renderer and writes its tape measurements), built
# from the photos and the stated height; then a sample portrait, which has
# no feet in it.
echo
XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}" "$BIN/atelier-studio" .demo/studio 1 100 2>/dev/null
upload_png() { # path -> upload id
  curl -fs -H "Authorization: Bearer $KEY" -H "X-User-Id: $USER_ID" \
    -H "Content-Type: image/png" --data-binary "@$1" "$API/v1/uploads" | jq -r .upload_id
}
front=$(upload_png .demo/studio/100-front.png)
side=$(upload_png .demo/studio/100-side.png)
truth=$(jq '.[0]' .demo/studio/truth.json)
height=$(jq '.truth_cm.height * 10 | round / 10' <<<"$truth")
view=$(wait_job "$(submit_json avatar.build "$(jq -n --arg f "$front" --arg s "$side" --argjson h "$height" --arg sex "$(jq -r .sex <<<"$truth")" \
  '{photos: {front: $f, side: $s}, height_cm: $h, sex: $sex}')")")
echo "Avatar of a generated $(jq -r .sex <<<"$truth") body, stated height $height cm (.demo/studio/100-front.png, 100-side.png) -> avatar.build: $(jq -r .status <<<"$view")"
jq -r --argjson t "$truth" '(.result.measurements? // empty | to_entries[] | select(.key != "unit") |
    "  \(.key): \(.value.value) ± \(.value.uncertainty) cm   (true: \($t.truth_cm[.key] * 10 | round / 10))"),
  (.result.models[]? | "  LOD\(.lod): \(.triangles) triangles, \(.bytes / 1024 | round) KiB (\(.compression))  .demo/objects/\(.key)"),
  (.result.preview? // empty | "  preview: .demo/objects/\(.key)"),
  (.result.timings_ms? // empty | "  stage timings (ms): \(tostring)"),
  (.error // empty | "  \(.code): \(.message)")' <<<"$view"
portrait=$(upload_png samples/astronaut.png)
view=$(wait_job "$(submit_json avatar.build "$(jq -n --arg f "$portrait" '{photos: {front: $f}, height_cm: 170}')")")
echo "-> avatar.build from samples/astronaut.png: $(jq -r .status <<<"$view")"
jq -r '.error // empty | "  \(.code): \(.message)"' <<<"$view"

# The platform pipeline as one flow (samples/pipeline.flow.json): the
# front and side photos ingested, the avatar built under the front photo's
# avatar id, its GLB turned (MP4) and photographed, a PDF sheet, and one
# e-mail when the flow ends. Its tree is printed each time a node moves.
echo
EMAIL="demo@example.com"
flow=$(sed -e "s/{{USER_ID}}/$USER_ID/g" -e "s/{{EMAIL}}/$EMAIL/g" \
  -e "s/{{FRONT}}/$front/g" -e "s/{{SIDE}}/$side/g" -e "s/\"{{HEIGHT_CM}}\"/$height/g" \
  -e "s/{{SEX}}/$(jq -r .sex <<<"$truth")/g" -e "s/{{DESIGN_ID}}/$(cat /proc/sys/kernel/random/uuid)/g" \
  samples/pipeline.flow.json)
mails_to() { # address -> how many messages the SMTP sink holds for it
  local n=0 f
  for f in .demo/maildir/new/*; do
    if [ -f "$f" ] && grep -q "^To: $1" "$f"; then n=$((n + 1)); fi
  done
  echo "$n"
}
MAILS_BEFORE=$(mails_to "$EMAIL")
accepted=$(curl -fs -H "Authorization: Bearer $KEY" -H "Content-Type: application/json" -d "$flow" "$API/v1/flows")
FLOW_ID=$(jq -r .flow_id <<<"$accepted")
echo "The platform pipeline as one flow (POST /v1/flows, samples/pipeline.flow.json) -> flow $FLOW_ID"
CTL=("$BIN/atelier-ctl" --url "$API" --operator-key dev-operator-key)
last=""
for _ in $(seq 1 1200); do
  tree=$("${CTL[@]}" flows show "$FLOW_ID")
  if [ "$tree" != "$last" ]; then
    echo "$tree" | sed 's/^/  /'
    echo
    last="$tree"
  fi
  case "$(head -1 <<<"$tree")" in *": running "*) sleep 0.5 ;; *) break ;; esac
done
view=$(curl -fs -H "Authorization: Bearer $KEY" "$API/v1/flows/$FLOW_ID")
jq -r '.nodes[] | select(.status == "complete") |
  (.result.models[0]? // empty | "  avatar GLB (the design item of the renders): .demo/objects/\(.key)"),
  (.result.videos[]? | "  turntable \(.format) \(.width)x\(.height) \(.frames) frames  .demo/objects/\(.key)"),
  (.result.renders[]? | "  still \(.camera) \(.width)x\(.height) \(.format)  .demo/objects/\(.key)"),
  (.result.file? // empty | "  sheet \(.format) \(.bytes / 1024 | round) KiB  .demo/objects/\(.key)")' <<<"$view"
for _ in $(seq 1 60); do
  sent=$(mails_to "$EMAIL")
  [ "$sent" -gt "$MAILS_BEFORE" ] && break
  sleep 0.5
done
if [ "$sent" -gt "$MAILS_BEFORE" ]; then
  mail=$(ls -t .demo/maildir/new/* | head -1)
  echo "  $((sent - MAILS_BEFORE)) e-mail to $EMAIL for the flow: $(grep -h '^Subject:' "$mail")  $mail"
else
  echo "  no e-mail yet: see .demo/worker.log"
fi

echo
# The console: signed in as the demo's operator, the flow's page as drawn.
jar=.demo/console-cookies
curl -fs -o /dev/null -c "$jar" -d key=dev-operator-key "$API/console/sign-in"
page=$(curl -fs -b "$jar" "$API/console/flows/$FLOW_ID")
echo "Console: $API/console (sign in with dev-operator-key); the flow's page draws $(grep -o 'data-node=' <<<"$page" | wc -l) nodes: $API/console/flows/$FLOW_ID"
echo "Job rows: psql $ATELIER__DATABASE__URL -c 'select id, kind, status, attempts from jobs'"
echo "Logs: .demo/intake.log, .demo/worker.log"
if [ "${ATELIER_DEMO_KEEP:-}" = 1 ]; then
  echo "Intake and worker keep running for the console (ATELIER_DEMO_KEEP=1); Ctrl-C stops them."
  wait "$INTAKE"
fi
