# shellcheck shell=bash
# The real node's build steps, sourced by build.sh (which provides log, die, run_step, go_env,
# compute_ldflags, build_in). Everything here runs only as root: the images are made with
# mmdebstrap + umoci, and the node itself (kubelet, containerd, runc, CNI) needs root to run.
#
#   kubelet                         go/kubelet wrapper (k8s.io/kubernetes at K8S_VERSION)
#   containerd, containerd-shim-runc-v2, ctr   go/containerd wrapper (CONTAINERD_VERSION)
#   runc, CNI plugins, mmdebstrap, umoci       Debian packages, installed here when missing
#   images/pause   pause.c from the k8s.io/kubernetes module, static, one file
#   images/python, images/r   mmdebstrap (Debian DEBIAN_SUITE) → umoci → OCI tarball
#
# Output: $CACHE_ROOT/node-<key>/bin (binaries) and $CACHE_ROOT/images/<name>-<hash>.oci.tar
# (+ .json: the image reference and the runtime versions read from the image itself). Each image
# is keyed by a hash of its package list, the suite, the mirror and IMAGE_REV.

NODE_BUILD_REV=1
# Bump when the image recipe below changes (so every image tag changes).
IMAGE_REV=1
NODE_DEBS=(runc containernetworking-plugins mmdebstrap umoci iproute2 gcc libc6-dev)
DEBIAN_MIRROR="${OFFHOST_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
DEBIAN_SECURITY_MIRROR="${OFFHOST_DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}"
IMAGES_SRC="$HERE/images"
IMAGES_DIR="$CACHE_ROOT/images"
NODE_IMAGES=(pause python r)
NODE_PKGS_KUBELET=(k8s.io/kubernetes/cmd/kubelet)
NODE_PKGS_CONTAINERD=(github.com/containerd/containerd/v2/cmd/containerd
                      github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2
                      github.com/containerd/containerd/v2/cmd/ctr)

node_key() {
  {
    echo "rev=$NODE_BUILD_REV"
    grep -E '^(K8S|CONTAINERD)_VERSION=' "$HERE/versions.env"
    local d; for d in kubelet containerd; do echo "== $d"; cat "$GO_DIR/$d/go.mod" "$GO_DIR/$d/go.sum"; done
  } | sha256sum | cut -c1-12
}
NODE_BIN="$CACHE_ROOT/node-${K8S_VERSION}-$(node_key)/bin"

image_tag() { # name → a hash of everything the image is made from
  local name="$1"
  {
    echo "rev=$IMAGE_REV suite=$DEBIAN_SUITE arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)"
    echo "mirror=$DEBIAN_MIRROR $DEBIAN_SECURITY_MIRROR"
    if [ "$name" = pause ]; then echo "pause from k8s.io/kubernetes@$K8S_VERSION"; else cat "$IMAGES_SRC/$name.packages"; fi
  } | sha256sum | cut -c1-16
}
image_tar() { echo "$IMAGES_DIR/$1-$(image_tag "$1").oci.tar"; }

# JSON for the TypeScript side (no build): where the node's binaries and images are.
print_node_json() {
  local first=1 name
  printf '{"binDir":"%s","imagesDir":"%s","images":{' "$NODE_BIN" "$IMAGES_DIR"
  for name in "${NODE_IMAGES[@]}"; do
    [ $first = 1 ] || printf ','; first=0
    printf '"%s":{"ref":"offhost.local/%s:%s","tar":"%s","meta":"%s"}' \
      "$name" "$name" "$(image_tag "$name")" "$(image_tar "$name")" "$(image_tar "$name").json"
  done
  printf '}}\n'
}

ensure_debs() {
  local missing=() p
  for p in "${NODE_DEBS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2> /dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -eq 0 ]; then log "Debian packages present: ${NODE_DEBS[*]}"; return 0; fi
  log "installing Debian packages: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}"
}

# umoci: an OCI layout with one image holding the root filesystem in $2, configured by the rest.
oci_from_rootfs() { # name rootfs-tar-or-dir tag out.tar umoci-config-args...
  local name="$1" src="$2" tag="$3" out="$4"; shift 4
  local work="$WORK/oci-$name"
  umoci init --layout "$work"
  umoci new --image "$work:$tag"
  umoci unpack --image "$work:$tag" "$WORK/bundle-$name"
  if [ -d "$src" ]; then cp -a "$src/." "$WORK/bundle-$name/rootfs/"
  else tar -C "$WORK/bundle-$name/rootfs" --numeric-owner -xpf "$src"; fi
  "$@" # a hook that reads the image's runtimes from the unpacked root filesystem
  umoci repack --image "$work:$tag" "$WORK/bundle-$name"
}

finish_oci() { # name tag out.tar umoci-config-args...
  local name="$1" tag="$2" out="$3"; shift 3
  local work="$WORK/oci-$name"
  umoci config --image "$work:$tag" "$@"
  umoci gc --layout "$work"
  mkdir -p "$IMAGES_DIR"
  tar -C "$work" -cf "$out.tmp" .
  mv -f "$out.tmp" "$out"
}

# Runs a command inside the unpacked image, as the image would (no network, no host paths).
in_rootfs() { chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/local/bin:/usr/bin:/bin LANG=C.UTF-8 HOME=/tmp "$@"; }

read_runtimes() { # name → writes $META (JSON) from the image's own interpreters
  local name="$1"
  ROOTFS="$WORK/bundle-$name/rootfs"
  case "$name" in
    python)
      in_rootfs python3 -c 'import json, os, platform, sys
print(json.dumps({"python": {"version": platform.python_version(), "path": os.path.realpath(sys.executable),
  "sysVersion": sys.version}}))' > "$META" ;;
    r)
      local rv rpath pandoc
      rv="$(in_rootfs Rscript -e 'cat(as.character(getRversion()))')"
      rpath="$(in_rootfs Rscript -e 'cat(normalizePath(file.path(R.home("bin"), "R")))')"
      pandoc="$(in_rootfs pandoc --version | awk 'NR==1 { print $2 }')"
      printf '{"r":{"version":"%s","path":"%s"},"pandoc":{"version":"%s","path":"/usr/bin/pandoc"}}\n' \
        "$rv" "$rpath" "$pandoc" > "$META" ;;
  esac
  log "  $name runtimes (read from the image): $(cat "$META")"
}

build_debian_image() { # name
  local name="$1" tag out pkgs
  tag="$(image_tag "$name")"; out="$(image_tar "$name")"
  pkgs="$(grep -vE '^\s*(#|$)' "$IMAGES_SRC/$name.packages" | tr -s ' \n' ',' | sed 's/,$//')"
  [ -n "$pkgs" ] || die "images/$name.packages lists no package"
  WORK="$(mktemp -d /var/tmp/offhost-image-"$name".XXXXXX)"
  trap 'rm -rf "$WORK"' EXIT
  META="$WORK/meta.json"
  log "  mmdebstrap $DEBIAN_SUITE: $pkgs"
  # No man pages or info: nothing in a content pod reads them.
  mmdebstrap --variant=minbase --include="$pkgs" --aptopt='Acquire::Retries "3"' \
    --dpkgopt='path-exclude=/usr/share/man/*' --dpkgopt='path-exclude=/usr/share/info/*' \
    "$DEBIAN_SUITE" "$WORK/rootfs.tar" \
    "deb $DEBIAN_MIRROR $DEBIAN_SUITE main" "deb $DEBIAN_MIRROR $DEBIAN_SUITE-updates main" \
    "deb $DEBIAN_SECURITY_MIRROR $DEBIAN_SUITE-security main"
  oci_from_rootfs "$name" "$WORK/rootfs.tar" "$tag" "$out" read_runtimes "$name"
  local cmd=(--config.cmd=python3); [ "$name" = r ] && cmd=(--config.cmd=R)
  finish_oci "$name" "$tag" "$out" "${cmd[@]}" \
    --config.env=PATH=/usr/local/bin:/usr/bin:/bin --config.env=LANG=C.UTF-8 --config.env=HOME=/tmp \
    --config.workingdir=/tmp --config.label="dev.offhost.runtimes=$(cat "$META")"
  # The image's reference and runtimes, for the tests' environment fixtures.
  printf '{"ref":"offhost.local/%s:%s","runtimes":%s}\n' "$name" "$tag" "$(cat "$META")" > "$out.json"
}

build_pause_image() {
  local tag out src
  tag="$(image_tag pause)"; out="$(image_tar pause)"
  src="$(cd "$GO_DIR/kubelet" && go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')/build/pause/linux/pause.c"
  [ -f "$src" ] || die "no pause.c in the k8s.io/kubernetes module ($src)"
  WORK="$(mktemp -d /var/tmp/offhost-image-pause.XXXXXX)"
  trap 'rm -rf "$WORK"' EXIT
  mkdir -p "$WORK/rootfs"
  gcc -Os -Wall -Werror -static -DVERSION="$K8S_VERSION" -o "$WORK/rootfs/pause" "$src"
  strip "$WORK/rootfs/pause"
  oci_from_rootfs pause "$WORK/rootfs" "$tag" "$out" true
  finish_oci pause "$tag" "$out" --config.entrypoint=/pause --config.user=65535:65535
  printf '{"ref":"offhost.local/pause:%s","runtimes":{}}\n' "$tag" > "$out.json"
}

do_node_step() {
  go_env; compute_ldflags
  case "$1" in
    debs) ensure_debs ;;
    node-fetch)
      (cd "$GO_DIR/kubelet" && go list -deps "${NODE_PKGS_KUBELET[@]}" > /dev/null)
      (cd "$GO_DIR/containerd" && go list -deps "${NODE_PKGS_CONTAINERD[@]}" > /dev/null) ;;
    kubelet|containerd)
      local tmp="$NODE_BIN/.tmp-$1-$$"; rm -rf "$tmp"; mkdir -p "$tmp"
      if [ "$1" = kubelet ]; then build_in kubelet "$K8S_LD" "$tmp/kubelet" "${NODE_PKGS_KUBELET[@]}"
      else
        local ld="-s -w -X github.com/containerd/containerd/v2/version.Version=$CONTAINERD_VERSION"
        ld+=" -X github.com/containerd/containerd/v2/version.Revision=module-$CONTAINERD_VERSION"
        (cd "$GO_DIR/containerd" && go build -trimpath -ldflags "$ld" -o "$tmp/" "${NODE_PKGS_CONTAINERD[@]}")
      fi
      local f; for f in "$tmp"/*; do mv -f "$f" "$NODE_BIN/"; done; rmdir "$tmp" ;;
    image-pause) build_pause_image ;;
    image-python) build_debian_image python ;;
    image-r) build_debian_image r ;;
    *) die "unknown node step $1" ;;
  esac
}

# Builds the node's pieces (root only; a non-root build says so and skips them).
node_build() {
  if [ "$(id -u)" != 0 ]; then
    log "real node: skipped (needs root: runc, CNI and mmdebstrap). As root: npm run cluster:build"
    return 0
  fi
  mkdir -p "$NODE_BIN" "$IMAGES_DIR" "$CACHE_ROOT/logs"
  local debs_ok=1 p
  for p in "${NODE_DEBS[@]}"; do dpkg-query -W -f='${Status}' "$p" 2> /dev/null | grep -q 'install ok installed' || debs_ok=0; done
  if [ $debs_ok = 1 ]; then STEP_REPORT+=("$(printf '%-16s %8s  %s' "debian packages" "present" "${NODE_DEBS[*]}")")
  else run_logged_step "debian packages" debs; fi
  local outs="$NODE_BIN/kubelet,$NODE_BIN/containerd,$NODE_BIN/containerd-shim-runc-v2,$NODE_BIN/ctr"
  run_step "node modules" "$outs" -- bash "$0" --logged-step node-fetch
  run_step "kubelet" "$NODE_BIN/kubelet" -- bash "$0" --logged-step kubelet
  run_step "containerd" "$NODE_BIN/containerd,$NODE_BIN/containerd-shim-runc-v2,$NODE_BIN/ctr" -- bash "$0" --logged-step containerd
  local name
  for name in "${NODE_IMAGES[@]}"; do
    run_step "image $name" "$(image_tar "$name"),$(image_tar "$name").json" -- bash "$0" --logged-step "image-$name"
  done
}

# Runs one node step as its own process with its output in a log file; on failure, says which
# step failed and shows the log's last lines.
run_logged() {
  local step="$1" logf="$CACHE_ROOT/logs/build-$1.log"
  if ! bash "$0" --step "$step" > "$logf" 2>&1; then
    log "step $step FAILED; last lines of $logf:"
    tail -n 40 "$logf" | sed 's/^/    /' >&2
    return 1
  fi
}
run_logged_step() { # report-name step
  local t0; t0=$(date +%s.%N)
  run_logged "$2" || die "step $1 failed"
  STEP_REPORT+=("$(printf '%-16s %7ss' "$1" "$(elapsed "$t0")")")
}
