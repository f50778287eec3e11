#!/usr/bin/env bash
# Turntable benchmark, one run, three systems side by side on this machine's
# CPU: 72 frames (or FRAMES) of the bench design (tests/data/models: the dress
# and the hat) at 720p and 1080p, rendered and encoded to H.264 (libx264
# medium, CRF 23, yuv420p):
#   ours      atelier-render-bench: wgpu on Vulkan (llvmpipe here), frames
#             streamed into ffmpeg, the render.turntable code path
#   three.js  three 0.187 in Debian's headless Chromium (WebGL on SwiftShader)
#             driven by puppeteer-core, frames read back and piped to ffmpeg
#   Blender   Debian's Blender 3.4.1, glTF import, EEVEE under Xvfb (Mesa),
#             its own FFmpeg output (CYCLES=1 adds Cycles, 16 samples: slow)
# Every output is checked with ffprobe, and the front still of ours is
# compared with three.js's (mean per-pixel difference). Figures are printed and
# go to benches/README.md by hand; nothing is asserted.
#
# usage: bash benches/render/run.sh [FRAMES]
set -euo pipefail
cd "$(dirname "$0")/../.."
FRAMES="${1:-72}"
OUT="${CARGO_TARGET_DIR:-target}/render-bench"
mkdir -p "$OUT"

need=()
for pkg in blender chromium xvfb xauth python3-numpy ffmpeg mesa-vulkan-drivers libvulkan1 time; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if [ ${#need[@]} -gt 0 ]; then
  echo "==> installing ${need[*]}" >&2
  sudo_() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
  sudo_ apt-get update -qq && sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"
fi
(cd benches/render/threejs && npm ci --silent)
SQLX_OFFLINE=true cargo build --release --locked -q -p atelier-render-bench
BIN="${CARGO_TARGET_DIR:-target}/release/atelier-render-bench"

probe() { # file -> "codec pix_fmt WxH frames duration"
  ffprobe -v error -count_frames -select_streams v:0 \
    -show_entries stream=codec_name,pix_fmt,width,height,nb_read_frames:format=duration \
    -of json "$1" | python3 -c 'import json,sys; d=json.load(sys.stdin); s=d["streams"][0]; print(s["codec_name"], s["pix_fmt"], "%dx%d" % (s["width"], s["height"]), s["nb_read_frames"], "frames", round(float(d["format"]["duration"]), 2), "s")'
}
timed() { # label command... -> runs it; prints wall time and the process tree's peak RSS
  local label=$1; shift
  local start end
  start=$(date +%s.%N)
  /usr/bin/time -f "%M" -o "$OUT/$label.rss" "$@" >"$OUT/$label.out" 2>"$OUT/$label.err" || {
    echo "$label failed:" >&2; tail -5 "$OUT/$label.err" >&2; return 1; }
  end=$(date +%s.%N)
  echo "$label: wall $(python3 -c "print(round($end - $start, 1))") s, peak RSS (largest process) $(( $(cat "$OUT/$label.rss") / 1024 )) MiB"
}

for height in 720 1080; do
  width=$((height * 16 / 9))
  echo "== ${width}x${height}, $FRAMES frames"
  timed "ours-$height" env XDG_RUNTIME_DIR=/tmp "$BIN" --frames "$FRAMES" --width "$width" --height "$height" --out "$OUT"
  grep '^{' "$OUT/ours-$height.out"
  echo "   ffprobe: $(probe "$OUT/ours-${height}p.mp4")"
  timed "threejs-$height" node benches/render/threejs/turntable.mjs "$OUT/camera.json" "$PWD/tests/data/models" "$OUT"
  grep '^{' "$OUT/threejs-$height.out"
  echo "   ffprobe: $(probe "$OUT/threejs-${height}p.mp4")"
  ffmpeg -loglevel error -y -i "$OUT/ours-front-${height}p.png" -f rawvideo -pix_fmt rgba "$OUT/ours-front.rgba"
  ffmpeg -loglevel error -y -f rawvideo -pix_fmt rgba -s "${width}x${height}" -i "$OUT/threejs-front-${height}p.rgba" \
    -vf vflip -f rawvideo -pix_fmt rgba "$OUT/threejs-front.rgba"
  echo "   front still, ours vs three.js: $(python3 benches/render/compare.py "$OUT/ours-front.rgba" "$OUT/threejs-front.rgba")"
  engines=(EEVEE)
  if [ "${CYCLES:-0}" = 1 ]; then engines+=(CYCLES); fi
  for engine in "${engines[@]}"; do
    lower=$(tr 'A-Z' 'a-z' <<<"$engine")
    run=(blender -b --factory-startup -P benches/render/blender/turntable.py -- "$OUT/camera.json" "$PWD/tests/data/models" "$OUT" "$engine")
    if [ "$engine" = EEVEE ]; then run=(xvfb-run -a -s "-screen 0 ${width}x${height}x24" "${run[@]}"); fi
    timed "blender-$lower-$height" "${run[@]}"
    grep '^BENCH' "$OUT/blender-$lower-$height.out" || true
    echo "   ffprobe: $(probe "$(ls "$OUT"/blender-"$lower"-"${height}"p-*.mp4 | tail -1)")"
  done
done
