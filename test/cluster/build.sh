#!/usr/bin/env bash
# Builds the local test control plane from the Go module proxy (nothing else is downloaded):
#   etcd, etcdctl                                   go.etcd.io/etcd/{server,etcdctl}/v3
#   kube-apiserver, kube-controller-manager,
#   kube-scheduler, kubectl                         k8s.io/kubernetes (wrapper module, staging modules
#                                                   replaced by their published v0.x.y)
#   kwok                                            sigs.k8s.io/kwok/cmd/kwok
#   metrics-server                                  sigs.k8s.io/metrics-server/cmd/metrics-server
#   helm                                            helm.sh/helm/v3/cmd/helm
#
# Versions: test/cluster/versions.env (the only place). Wrapper modules: test/cluster/go/<tool>/.
# Output:   ${OFFHOST_CLUSTER_CACHE:-~/.cache/offhost/cluster}/<versions-key>/bin — outside the repo.
#           A binary already there is not rebuilt; Go's own GOMODCACHE/GOCACHE make rebuilds cheap.
#
# Usage: build.sh                 build what is missing, print each step's time
#        build.sh --print-bin-dir print the bin directory for the pinned versions (no build)
#        build.sh --check         only check the wrapper modules against versions.env
#        build.sh --force         rebuild everything (still uses Go's caches)
#        build.sh --regen         regenerate the wrapper go.mod/go.sum from versions.env (network)
#        build.sh --node          only the real node's pieces (root; see node-build.sh)
#        build.sh --print-node-json  where the real node's binaries and images are (no build)
#
# As root, the build also makes the real node (node-build.sh): kubelet, containerd, the Debian
# packages it needs, and the runtime images. Not as root, or with OFFHOST_CLUSTER_REAL_NODE=0, it
# skips them and says so.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=versions.env
source "$HERE/versions.env"
GO_DIR="$HERE/go"
# Bump when build flags (tags, ldflags) change, so the cache key changes.
BUILD_REV=1

CACHE_ROOT="${OFFHOST_CLUSTER_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/offhost/cluster}"
# The control plane's wrappers and versions only: the real node's pieces (node-build.sh) have their own
# keys, so adding or bumping them never rebuilds the control plane.
CP_DIRS=(etcd helm kubernetes kwok metrics-server)
CP_VARS='^(K8S|ETCD|KWOK|METRICS_SERVER|HELM)_VERSION='
versions_key() {
  {
    echo "rev=$BUILD_REV"
    grep -E "$CP_VARS" "$HERE/versions.env"
    local d; for d in "${CP_DIRS[@]}"; do echo "== $d/go.mod"; cat "$GO_DIR/$d/go.mod"; done
    for d in "${CP_DIRS[@]}"; do echo "== $d/go.sum"; cat "$GO_DIR/$d/go.sum"; done
  } | sha256sum | cut -c1-12
}
KEY="k8s-${K8S_VERSION}-$(versions_key)"
BIN="$CACHE_ROOT/$KEY/bin"

log() { printf '[cluster:build] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

K8S_MINOR="$(echo "$K8S_VERSION" | cut -d. -f2)"
STAGING_VERSION="v0.${K8S_VERSION#v1.}"

# --- wrapper modules ---------------------------------------------------------------------------
# tool dir | go packages (the `tool` lines of its go.mod) | module | pinned version
K8S_PKGS=(k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager
          k8s.io/kubernetes/cmd/kube-scheduler k8s.io/kubernetes/cmd/kubectl)
ETCD_PKGS=(go.etcd.io/etcd/server/v3 go.etcd.io/etcd/etcdctl/v3)
KWOK_PKGS=(sigs.k8s.io/kwok/cmd/kwok)
MS_PKGS=(sigs.k8s.io/metrics-server/cmd/metrics-server)
HELM_PKGS=(helm.sh/helm/v3/cmd/helm)

go_env() {
  # CGO off like upstream's release builds; never fetch another toolchain; never edit go.mod while building.
  export CGO_ENABLED=0 GOTOOLCHAIN=local
  export GOFLAGS="${GOFLAGS:-} -mod=readonly -buildvcs=false"
}

regen_one() { # dir version pkgs...
  local dir="$1" ver="$2"; shift 2
  local d="$GO_DIR/$dir"
  mkdir -p "$d"; rm -f "$d/go.mod" "$d/go.sum"
  printf 'module offhost.dev/test-cluster/%s\n\ngo 1.26.0\n' "$dir" > "$d/go.mod"
  (
    cd "$d"
    export GOFLAGS=-mod=mod GOTOOLCHAIN=local
    if [ "$dir" = kubernetes ] || [ "$dir" = kubelet ]; then
      local upstream
      upstream="$(go mod download -json "k8s.io/kubernetes@$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')"
      # One replace per staging module, taken from upstream's own `=> ./staging/...` lines.
      for m in $(grep -oE '^\s*k8s\.io/[a-z0-9-]+ => \./staging' "$upstream" | awk '{print $1}'); do
        go mod edit -replace="$m=$m@$STAGING_VERSION"
      done
    fi
    local args=(); for p in "$@"; do args+=("$p@$ver"); done
    go get -tool "${args[@]}"
  )
  log "regenerated go/$dir (go.mod + go.sum)"
}

regen() {
  regen_one kubernetes "$K8S_VERSION" "${K8S_PKGS[@]}"
  regen_one etcd "$ETCD_VERSION" "${ETCD_PKGS[@]}"
  regen_one kwok "$KWOK_VERSION" "${KWOK_PKGS[@]}"
  regen_one metrics-server "$METRICS_SERVER_VERSION" "${MS_PKGS[@]}"
  regen_one helm "$HELM_VERSION" "${HELM_PKGS[@]}"
  regen_one kubelet "$K8S_VERSION" "${NODE_PKGS_KUBELET[@]}"
  regen_one containerd "$CONTAINERD_VERSION" "${NODE_PKGS_CONTAINERD[@]}"
}

# The wrapper go.mod files must require exactly the versions in versions.env.
check_pin() { # dir module version
  local f="$GO_DIR/$1/go.mod"
  [ -f "$f" ] || die "missing $f — run: bash test/cluster/build.sh --regen"
  grep -Eq "^[[:space:]]*(require[[:space:]]+)?$2[[:space:]]+$3([[:space:]]|\$)" "$f" ||
    die "go/$1/go.mod does not require $2 $3 (versions.env) — run: bash test/cluster/build.sh --regen"
}
check() {
  check_pin kubernetes k8s.io/kubernetes "$K8S_VERSION"
  local bad
  bad="$(grep -E '^[[:space:]]*(replace[[:space:]]+)?k8s\.io/[a-z0-9-]+ => ' "$GO_DIR/kubernetes/go.mod" | grep -v " $STAGING_VERSION\$" || true)"
  [ -z "$bad" ] || die "go/kubernetes/go.mod has staging replaces not at $STAGING_VERSION: $bad"
  check_pin etcd go.etcd.io/etcd/server/v3 "$ETCD_VERSION"
  check_pin etcd go.etcd.io/etcd/etcdctl/v3 "$ETCD_VERSION"
  check_pin kwok sigs.k8s.io/kwok "$KWOK_VERSION"
  check_pin metrics-server sigs.k8s.io/metrics-server "$METRICS_SERVER_VERSION"
  check_pin helm helm.sh/helm/v3 "$HELM_VERSION"
  check_pin kubelet k8s.io/kubernetes "$K8S_VERSION"
  bad="$(grep -E '^[[:space:]]*(replace[[:space:]]+)?k8s\.io/[a-z0-9-]+ => ' "$GO_DIR/kubelet/go.mod" | grep -v " $STAGING_VERSION\$" || true)"
  [ -z "$bad" ] || die "go/kubelet/go.mod has staging replaces not at $STAGING_VERSION: $bad"
  check_pin containerd github.com/containerd/containerd/v2 "$CONTAINERD_VERSION"
}

# --- steps ---------------------------------------------------------------------------------------
TOTAL_START=$(date +%s.%N)
STEP_REPORT=()
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

# Outputs for the summary: file names only.
short_outs() { local o out=() ; IFS=',' read -ra l <<< "$1"; for o in "${l[@]}"; do out+=("${o##*/}"); done; (IFS=,; echo "${out[*]}"); }

# run_step NAME OUTPUTS(comma-separated, in $BIN) -- command...
run_step() {
  local name="$1" outs="$2"; shift 3
  local missing=0 o
  IFS=',' read -ra list <<< "$outs"
  # An output is a binary in $BIN, or an absolute path (the real node's binaries and images).
  for o in "${list[@]}"; do
    case "$o" in /*) [ -s "$o" ] || missing=1 ;; *) [ -x "$BIN/$o" ] || missing=1 ;; esac
  done
  if [ "$missing" = 0 ] && [ "${FORCE:-0}" != 1 ]; then
    STEP_REPORT+=("$(printf '%-16s %8s  %s' "$name" "cached" "$(short_outs "$outs")")")
    return 0
  fi
  log "building $name ($outs) ..."
  local t0 rssfile; t0=$(date +%s.%N); rssfile="$(mktemp)"
  local timer=()
  # GNU time reports the largest single process of the tree (the compiler or linker), in KiB.
  if [ -x /usr/bin/time ]; then timer=(/usr/bin/time -f '%M' -o "$rssfile"); fi
  if ! "${timer[@]}" "$@"; then rm -f "$rssfile"; die "step $name failed (its output, or its log's last lines, are above)"; fi
  local secs rss=""; secs=$(elapsed "$t0")
  [ -s "$rssfile" ] && rss="$(awk '{ printf "max RSS %.0f MiB", $1 / 1024 }' "$rssfile")"
  rm -f "$rssfile"
  STEP_REPORT+=("$(printf '%-16s %7ss  %s  %s' "$name" "$secs" "$(short_outs "$outs")" "$rss")")
  log "$name done in ${secs}s ${rss}"
}

build_in() { # dir ldflags out(-o target) pkgs...
  local dir="$1" ld="$2" out="$3"; shift 3
  (cd "$GO_DIR/$dir" && go build -trimpath -tags=selinux,notest -ldflags "$ld" -o "$out" "$@")
}

compute_ldflags() {
  local now="${BUILD_DATE:-$(date -u +%Y-%m-%dT%H:%M:%SZ)}" p
  # kube-apiserver & co: ldflags as upstream's hack/lib/version.sh sets them.
  K8S_LD="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    K8S_LD+=" -X $p.gitVersion=$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$K8S_MINOR"
    K8S_LD+=" -X $p.gitTreeState=clean -X $p.gitCommit=module-$K8S_VERSION -X $p.buildDate=$now"
  done
  ETCD_LD="-s -w -X go.etcd.io/etcd/api/v3/version.GitSHA=module-$ETCD_VERSION"
  KWOK_LD="-s -w -X sigs.k8s.io/kwok/pkg/consts.Version=${KWOK_VERSION#v} -X sigs.k8s.io/kwok/pkg/consts.KubeVersion=${K8S_VERSION#v}"
  MS_LD="-s -w"   # metrics-server's Makefile stamps client-go's version package
  for p in k8s.io/client-go/pkg/version k8s.io/component-base/version; do
    MS_LD+=" -X $p.gitVersion=$METRICS_SERVER_VERSION -X $p.gitCommit=module-$METRICS_SERVER_VERSION -X $p.buildDate=$now"
  done
  # helm's lint/chartutil default "kube version" comes from the client-go it is built with (its Makefile).
  local cg maj min
  cg="$(cd "$GO_DIR/helm" && go list -m -f '{{.Version}}' k8s.io/client-go)"
  maj=$(( $(echo "${cg#v}" | cut -d. -f1) + 1 )); min="$(echo "$cg" | cut -d. -f2)"
  HELM_LD="-s -w -X helm.sh/helm/v3/internal/version.version=$HELM_VERSION -X helm.sh/helm/v3/internal/version.metadata="
  HELM_LD+=" -X helm.sh/helm/v3/internal/version.gitCommit=module-$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
  for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
    HELM_LD+=" -X $p.k8sVersionMajor=$maj -X $p.k8sVersionMinor=$min"
  done
}

# One step, run as `build.sh --step NAME` so that /usr/bin/time can measure it as a process.
# Binaries are built into a temporary directory and moved into $BIN only when all succeeded.
do_step() {
  go_env; compute_ldflags
  local tmp="$BIN/.tmp-$1-$$"; rm -rf "$tmp"; mkdir -p "$tmp"
  case "$1" in
    fetch) # download the module sources the packages need (network only)
      (cd "$GO_DIR/kubernetes" && go list -deps "${K8S_PKGS[@]}" > /dev/null)
      (cd "$GO_DIR/etcd" && go list -deps "${ETCD_PKGS[@]}" > /dev/null)
      (cd "$GO_DIR/kwok" && go list -deps "${KWOK_PKGS[@]}" > /dev/null)
      (cd "$GO_DIR/metrics-server" && go list -deps "${MS_PKGS[@]}" > /dev/null)
      (cd "$GO_DIR/helm" && go list -deps "${HELM_PKGS[@]}" > /dev/null) ;;
    etcd)
      build_in etcd "$ETCD_LD" "$tmp/etcd" go.etcd.io/etcd/server/v3
      build_in etcd "$ETCD_LD" "$tmp/etcdctl" go.etcd.io/etcd/etcdctl/v3 ;;
    kubernetes) build_in kubernetes "$K8S_LD" "$tmp/" "${K8S_PKGS[@]}" ;;
    kwok) build_in kwok "$KWOK_LD" "$tmp/kwok" "${KWOK_PKGS[@]}" ;;
    metrics-server) build_in metrics-server "$MS_LD" "$tmp/metrics-server" "${MS_PKGS[@]}" ;;
    helm) build_in helm "$HELM_LD" "$tmp/helm" "${HELM_PKGS[@]}" ;;
    *) die "unknown step $1" ;;
  esac
  local f; for f in "$tmp"/*; do [ -e "$f" ] && mv -f "$f" "$BIN/"; done
  rmdir "$tmp"
}

main_build() {
  command -v go > /dev/null || die "go is not on PATH (need Go >= 1.26.0)"
  local gov; gov="$(go env GOVERSION | sed 's/^go//')"
  case "$gov" in 1.2[6-9]*|1.[3-9]*) ;; *) die "Go $gov is too old: the wrapper modules need Go >= 1.26.0";; esac
  check
  mkdir -p "$BIN"
  export BUILD_DATE; BUILD_DATE="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  log "Go $gov on $(nproc) cores; output $BIN"

  local all="etcd,etcdctl,kube-apiserver,kube-controller-manager,kube-scheduler,kubectl,kwok,metrics-server,helm"
  run_step "fetch modules" "$all" -- bash "$0" --step fetch
  run_step "etcd" "etcd,etcdctl" -- bash "$0" --step etcd
  run_step "kubernetes" "kube-apiserver,kube-controller-manager,kube-scheduler,kubectl" -- bash "$0" --step kubernetes
  run_step "kwok" "kwok" -- bash "$0" --step kwok
  run_step "metrics-server" "metrics-server" -- bash "$0" --step metrics-server
  run_step "helm" "helm" -- bash "$0" --step helm

  # A small manifest for `cluster:status` and the tests.
  printf '{"key":"%s","kubernetes":"%s","etcd":"%s","kwok":"%s","metricsServer":"%s","helm":"%s"}\n' \
    "$KEY" "$K8S_VERSION" "$ETCD_VERSION" "$KWOK_VERSION" "$METRICS_SERVER_VERSION" "$HELM_VERSION" > "$BIN/../versions.json"
  # The real node (root only; OFFHOST_CLUSTER_REAL_NODE=0 skips it).
  if [ "${OFFHOST_CLUSTER_REAL_NODE:-}" = 0 ]; then log "real node: skipped (OFFHOST_CLUSTER_REAL_NODE=0)"
  else node_build; fi
  log "summary ($BIN):"
  local l; for l in "${STEP_REPORT[@]}"; do log "  $l"; done
  log "  $(printf '%-16s %7ss' total "$(elapsed "$TOTAL_START")")"
}

# shellcheck source=node-build.sh
source "$HERE/node-build.sh"

# One build at a time per cache: a second `npm test` (or a test's global setup) waits for the first
# instead of compiling the same steps into the same directories (and racing apt for dpkg's lock).
build_lock() {
  mkdir -p "$CACHE_ROOT"
  exec 8> "$CACHE_ROOT/.build.lock"
  if ! flock -n 8; then
    log "another build is running in $CACHE_ROOT; waiting for it to finish"
    flock 8
  fi
}

case "${1:-}" in
  --node|--force|"") build_lock ;;
esac

case "${1:-}" in
  --print-bin-dir) echo "$BIN" ;;
  --print-node-json) print_node_json ;;
  --node) # only the real node's pieces (binaries and images)
    command -v go > /dev/null || die "go is not on PATH"
    check; node_build
    log "summary (real node):"; for l in "${STEP_REPORT[@]}"; do log "  $l"; done
    log "  $(printf '%-16s %7ss' total "$(elapsed "$TOTAL_START")")" ;;
  --logged-step) run_logged "$2" ;;
  --step)
    case "$2" in
      debs|node-fetch|kubelet|containerd|image-*) do_node_step "$2" ;;
      *) do_step "$2" ;;
    esac ;;
  --check) check; log "wrapper modules match versions.env" ;;
  --regen) regen; check ;;
  --force) FORCE=1 main_build ;;
  "") main_build ;;
  *) die "unknown argument: $1 (see the header of $0)" ;;
esac
