#!/usr/bin/env bash
# Make this machine ready to build, test and run the backbone: install what is
# missing (Debian packages), start PostgreSQL and Redis when they are not
# running, and make the local PostgreSQL reachable at
# postgres://postgres:postgres@127.0.0.1:5432. Idempotent; safe to run often.
set -euo pipefail

log() { printf '==> %s\n' "$*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

# Debian packages: services, C toolchain for bundled C code (libwebp,
# aws-lc), the demo's HTTP client tools, promtool (from prometheus) that the
# tests use to check the /metrics exposition, and for render workers a Vulkan
# driver that runs on the CPU (Mesa's llvmpipe; a GPU's driver is used where
# there is one) and the ffmpeg/ffprobe programs; python3-aiosmtpd is the SMTP
# server the e-mail tests run on loopback, poppler-utils the PDF reader the
# export tests read sheets with, chromium the browser the console's tests
# drive (headless, WebGL on the CPU through SwiftShader).
PACKAGES=(redis-server postgresql postgresql-client build-essential pkg-config curl jq ca-certificates prometheus
          mesa-vulkan-drivers libvulkan1 ffmpeg python3-aiosmtpd poppler-utils chromium)
missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
# pip (to download ONNX Runtime and models from PyPI) unless one is there;
# venv for the OpenAPI document's validator (scripts/check-openapi.sh).
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
python3 -c 'import ensurepip, venv' >/dev/null 2>&1 || missing+=(python3-venv)
# Node and npm (the avatar tests check GLB files with the Khronos validator
# and three.js from npm) unless they are there.
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  # apt can fail transiently (mirror hiccup, another apt holding the lock).
  for attempt in 1 2 3 4 5; do
    if as_root apt-get update -qq && \
       as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; then
      break
    fi
    [ "$attempt" = 5 ] && { log "apt-get failed 5 times"; exit 1; }
    log "apt-get failed (attempt $attempt), retrying"; sleep $((attempt * 5))
  done
fi

if ! command -v cargo >/dev/null; then
  log "cargo not found: install Rust 1.95 or newer with rustup (https://rustup.rs)"; exit 1
fi

# PostgreSQL
if ! pg_isready -q -h 127.0.0.1 -p 5432; then
  log "starting PostgreSQL"
  version=$(ls /etc/postgresql | sort -V | tail -1)
  as_root pg_ctlcluster --skip-systemctl-redirect "$version" main start || as_root service postgresql start
  for _ in $(seq 1 30); do pg_isready -q -h 127.0.0.1 -p 5432 && break; sleep 1; done
  pg_isready -h 127.0.0.1 -p 5432
fi
if ! PGPASSWORD=postgres psql -h 127.0.0.1 -U postgres -d postgres -qtAc 'select 1' >/dev/null 2>&1; then
  log "setting the local postgres user's password (fresh Debian install)"
  as_root su postgres -c "psql -qc \"ALTER USER postgres PASSWORD 'postgres'\""
fi

# Redis
if ! redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1; then
  log "starting Redis"
  as_root mkdir -p /var/lib/redis /var/log/redis
  as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
    --appendonly no --dir /var/lib/redis --logfile /var/log/redis/atelier.log
  for _ in $(seq 1 30); do redis-cli ping >/dev/null 2>&1 && break; sleep 0.5; done
  redis-cli ping >/dev/null
fi
bash "$(dirname "$0")/fetch-models.sh"
bash "$(dirname "$0")/fetch-body.sh"
log "ready: PostgreSQL and Redis on 127.0.0.1, models verified, body model extracted"
