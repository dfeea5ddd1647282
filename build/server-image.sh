#!/usr/bin/env bash
# The server image without a container engine, the way the test images are made
# (test/cluster/node-build.sh): Debian packages with mmdebstrap, the OCI image with umoci.
# Same contents as build/Containerfile: Debian trixie's nodejs (20.19, the ABI of node_modules'
# better-sqlite3 build), dist/, the production dependencies, uid/gid 999, entrypoint the server.
#
#   sudo bash build/server-image.sh            → release/offhost-server-<version>.oci.tar (OCI layout)
#
# The Debian root filesystem is kept in ~/.cache/offhost/server-image/ (by suite and package list),
# so a rebuild repacks only the app; OFFHOST_IMAGE_FRESH=1 makes it again (a release build should,
# for Debian's latest security updates). OFFHOST_IMAGE_SKIP_BUILD=1 packs the dist/ that is there
# instead of running `npm run build` (the tests, which run beside servers using dist/).
#
# Then: skopeo copy oci-archive:release/offhost-server-0.1.0.oci.tar docker://REGISTRY/offhost-server:0.1.0,
# `ctr -n k8s.io images import --base-name offhost.local/offhost-server release/offhost-server-0.1.0.oci.tar` on a containerd node,
# or `podman load -i …`. Needs root (mmdebstrap, chroot), Node with `npm run build` done or doable,
# and Debian's mirrors (OFFHOST_DEBIAN_MIRROR to use another).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SUITE=trixie
MIRROR="${OFFHOST_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SECURITY="${OFFHOST_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
VERSION="$(node -p "require('$ROOT/package.json').version")"
OUT="${1:-$ROOT/release/offhost-server-$VERSION.oci.tar}"
log() { printf '[server-image] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (mmdebstrap and chroot); run: sudo bash build/server-image.sh"
for t in mmdebstrap umoci; do command -v "$t" > /dev/null || die "$t is missing: apt-get install mmdebstrap umoci"; done
[ -f "$ROOT/node_modules/better-sqlite3/build/Release/better_sqlite3.node" ] || die "node_modules is not installed: npm ci"
NODE_ABI="$(node -p process.versions.modules)"
[ "$NODE_ABI" = 115 ] || die "node_modules was built for Node ABI $NODE_ABI; the image's Node 20 needs 115 (use Node 20 here)"

WORK="$(mktemp -d /var/tmp/offhost-server-image.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
t0=$(date +%s)

if [ "${OFFHOST_IMAGE_SKIP_BUILD:-0}" = 1 ]; then
  [ -f "$ROOT/dist/main/server.js" ] || die "dist/ is not built: npm run build"
  log "packing the dist/ that is there (OFFHOST_IMAGE_SKIP_BUILD=1)"
else
  log "npm run build"
  (cd "$ROOT" && npm run build --silent)
fi

log "staging the app: dist/ (no source maps), package.json, production node_modules"
APP="$WORK/app"
mkdir -p "$APP"
cp "$ROOT/package.json" "$APP/"
cp -a "$ROOT/dist" "$APP/dist"
find "$APP/dist" -name '*.map' -delete
(cd "$ROOT" && { npm ls --omit=dev --all --parseable 2> /dev/null || true; } | tail -n +2) | while read -r dir; do
  rel="${dir#"$ROOT"/}"
  mkdir -p "$APP/$(dirname "$rel")"
  [ -e "$APP/$rel" ] || cp -a "$dir" "$APP/$rel"
done
# The SQLite sources better-sqlite3 compiled from, and its build's objects, are not needed at run time.
rm -rf "$APP/node_modules/better-sqlite3/deps" "$APP/node_modules/better-sqlite3/src" "$APP/node_modules/better-sqlite3/build/Release/obj" "$APP/node_modules/better-sqlite3/build/Release/obj.target"

PACKAGES=nodejs,ca-certificates
CACHE="${OFFHOST_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/offhost/server-image}"
ROOTFS_TAR="$CACHE/rootfs-$SUITE-$(printf '%s' "$PACKAGES" | sha256sum | cut -c1-12).tar"
if [ -s "$ROOTFS_TAR" ] && [ "${OFFHOST_IMAGE_FRESH:-0}" != 1 ]; then
  log "Debian $SUITE root filesystem from the cache: $ROOTFS_TAR (OFFHOST_IMAGE_FRESH=1 makes it again)"
else
  log "mmdebstrap $SUITE: $PACKAGES"
  mkdir -p "$CACHE"
  mmdebstrap --variant=minbase --include="$PACKAGES" --aptopt='Acquire::Retries "3"' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' --dpkgopt='path-exclude=/usr/share/doc/*' \
    "$SUITE" "$CACHE/.partial-$$.tar" \
    "deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" "deb $SECURITY $SUITE-security main"
  mv -f "$CACHE/.partial-$$.tar" "$ROOTFS_TAR"
fi

log "umoci: one image, the app at /app"
TAG="$VERSION"
umoci init --layout "$WORK/oci"
umoci new --image "$WORK/oci:$TAG"
umoci unpack --image "$WORK/oci:$TAG" "$WORK/bundle"
ROOTFS="$WORK/bundle/rootfs"
tar -C "$ROOTFS" --numeric-owner -xpf "$ROOTFS_TAR"
cp -a "$APP" "$ROOTFS/app"
chown -R 0:0 "$ROOTFS/app"
mkdir -p "$ROOTFS/var/lib/offhost/data"
chown 999:999 "$ROOTFS/var/lib/offhost/data"
IMAGE_NODE="$(chroot "$ROOTFS" /usr/bin/node -p 'process.version + " abi " + process.versions.modules')"
log "  the image's node: $IMAGE_NODE"

# Smoke test inside the root filesystem, as the image runs it: the server starts on SQLite, loads
# better-sqlite3, answers /healthz and /readyz, and stops on SIGTERM.
PORT=$((20000 + RANDOM % 20000))
mkdir -p "$ROOTFS/tmp/smoke" && chown 999:999 "$ROOTFS/tmp/smoke"
chroot --userspec=999:999 "$ROOTFS" /usr/bin/env -i PATH=/usr/bin:/bin HOME=/tmp OFFHOST_DATA_DIR=/tmp/smoke \
  OFFHOST_HOST=127.0.0.1 OFFHOST_PORT="$PORT" OFFHOST_LOG_LEVEL=warn /usr/bin/node /app/dist/main/server.js > "$WORK/smoke.log" 2>&1 &
SERVER=$!
ok=0
for _ in $(seq 1 60); do
  if node -e "fetch('http://127.0.0.1:$PORT/readyz').then(r=>process.exit(r.status===200?0:1),()=>process.exit(1))"; then ok=1; break; fi
  sleep 0.5
done
kill -TERM "$SERVER" 2> /dev/null || true
wait "$SERVER" 2> /dev/null || true
[ "$ok" = 1 ] || { cat "$WORK/smoke.log" >&2; die "the server in the image did not answer /readyz"; }
log "  smoke test: the server in the image answered /readyz on SQLite"
rm -rf "$ROOTFS/tmp/smoke" "$ROOTFS/tmp/"*

umoci repack --image "$WORK/oci:$TAG" "$WORK/bundle"
umoci config --image "$WORK/oci:$TAG" \
  --config.user=999:999 --config.workingdir=/app \
  --config.entrypoint=/usr/bin/node --config.entrypoint=/app/dist/main/server.js \
  --config.env=PATH=/usr/local/bin:/usr/bin:/bin --config.env=NODE_ENV=production \
  --config.env=OFFHOST_HOST=0.0.0.0 --config.env=OFFHOST_PORT=3939 --config.env=OFFHOST_DATA_DIR=/var/lib/offhost/data \
  --config.exposedports=3939/tcp \
  --config.label=org.opencontainers.image.title="Offhost server" --config.label=org.opencontainers.image.version="$VERSION" \
  --config.label=org.opencontainers.image.licenses=Apache-2.0
umoci gc --layout "$WORK/oci"
mkdir -p "$(dirname "$OUT")"
tar -C "$WORK/oci" -cf "$OUT.tmp" .
mv -f "$OUT.tmp" "$OUT"
log "wrote $OUT ($(du -h "$OUT" | cut -f1), offhost.local/offhost-server:$TAG, $(( $(date +%s) - t0 )) s)"
