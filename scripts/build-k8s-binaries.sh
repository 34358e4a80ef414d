#!/usr/bin/env bash
# Build the control-plane binaries the cluster tests run (etcd, kube-apiserver,
# kube-controller-manager, kubectl, helm) from the Go module proxy, pinned by the
# wrapper modules under hack/. No registry serves prebuilt binaries here, and kind/k3d
# need a container registry, so we compile them once and cache them by version outside
# the repository. A binary already in the cache with a matching version stamp is skipped.
#
# Usage: scripts/build-k8s-binaries.sh [--print-bin-dir]
#   ENVLESS_K8S_CACHE  cache root (default: $HOME/.cache/envless/k8s)
#   K8S_GIT_COMMIT     commit to stamp into the Kubernetes binaries (the module proxy
#                      carries no VCS data, so it is empty unless given)
# The last line printed is the bin dir (all binaries in one directory).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
hack="$repo_root/hack"

log() { printf '[build-k8s] %s\n' "$*" >&2; }
die() { printf '[build-k8s] ERROR: %s\n' "$*" >&2; exit 1; }

# Version of a module as pinned in one wrapper go.mod (single source of truth).
pinned() { # <go.mod> <module path>
  local v
  v="$(awk -v m="$2" '($1 == m && $2 ~ /^v/) || ($1 == "require" && $2 == m) { print ($1 == "require" ? $3 : $2); exit }' "$1")"
  [[ -n "$v" ]] || die "cannot find $2 in $1"
  printf '%s' "$v"
}

k8s_version="$(pinned "$hack/k8s/go.mod" k8s.io/kubernetes)"       # e.g. v1.36.3
etcd_version="$(pinned "$hack/etcd/go.mod" go.etcd.io/etcd/server/v3)" # e.g. v3.6.8
helm_version="$(pinned "$hack/helm/go.mod" helm.sh/helm/v4)"         # e.g. v4.3.1
required_go="$(awk '$1 == "go" { print $2; exit }' "$hack/k8s/go.mod")"

cache_root="${ENVLESS_K8S_CACHE:-$HOME/.cache/envless/k8s}"
bin_dir="$cache_root/$k8s_version"

if [[ "${1:-}" == "--print-bin-dir" ]]; then
  printf '%s\n' "$bin_dir"
  exit 0
fi

# --- Go toolchain -------------------------------------------------------------------
# GOTOOLCHAIN=local: never let the go command fetch another toolchain behind our back;
# CGO_ENABLED=0: static binaries, no C compiler needed.
export GOTOOLCHAIN=local CGO_ENABLED=0
export GOFLAGS="${GOFLAGS:-} -mod=readonly"

command -v go >/dev/null 2>&1 || die "Go is not installed or not on PATH. Install Go >= $required_go (official release or your package manager) and re-run."
go_version="$(go env GOVERSION 2>/dev/null || true)" # e.g. go1.26.8
go_version="${go_version#go}"
[[ "$go_version" =~ ^[0-9]+\.[0-9]+ ]] || die "cannot read the Go version ('go env GOVERSION' printed '$go_version')"

version_ge() { # <have> <need>: true when have >= need (numeric, dot-separated)
  local IFS=.
  local -a have=($1) need=($2)
  local i
  for i in 0 1 2; do
    local h="${have[i]:-0}" n="${need[i]:-0}"
    h="${h%%[!0-9]*}" n="${n%%[!0-9]*}"
    ((10#${h:-0} > 10#${n:-0})) && return 0
    ((10#${h:-0} < 10#${n:-0})) && return 1
  done
  return 0
}
version_ge "$go_version" "$required_go" \
  || die "Go $go_version is too old: Kubernetes $k8s_version needs Go >= $required_go. Install a newer Go and re-run."

log "Go $go_version; Kubernetes $k8s_version, etcd $etcd_version, helm $helm_version"
log "bin dir: $bin_dir"
mkdir -p "$bin_dir"

# --- version stamps -----------------------------------------------------------------
# Without these, /version reports v0.0.0-master and Helm's .Capabilities.KubeVersion and
# kubectl's version skew checks break. The build date is the release's publication time
# on the module proxy, so rebuilding gives the same stamp.
k8s_build_date="$(cd "$hack/k8s" && go list -m -f '{{if .Time}}{{.Time.UTC.Format "2006-01-02T15:04:05Z"}}{{end}}' k8s.io/kubernetes 2>/dev/null || true)"
k8s_build_date="${k8s_build_date:-1970-01-01T00:00:00Z}"
k8s_mm="${k8s_version#v}"
k8s_major="${k8s_mm%%.*}"
k8s_minor="${k8s_mm#*.}"
k8s_minor="${k8s_minor%%.*}"
k8s_commit="${K8S_GIT_COMMIT:-}"

k8s_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$k8s_version"
  k8s_ldflags+=" -X $pkg.gitMajor=$k8s_major"
  k8s_ldflags+=" -X $pkg.gitMinor=$k8s_minor"
  k8s_ldflags+=" -X $pkg.gitCommit=$k8s_commit"
  k8s_ldflags+=" -X $pkg.gitTreeState=clean"
  k8s_ldflags+=" -X $pkg.buildDate=$k8s_build_date"
done

# etcd's version number is a constant in its api module; only the commit is a variable.
etcd_ldflags="-s -w"
# Helm 4 reads the Kubernetes version it assumes offline from its client-go module
# version (build info), so only its own version needs stamping. (Helm 3 would also
# need -X .../pkg/chartutil.k8sVersionMajor/Minor and .../pkg/lint/rules.k8sVersion*.)
helm_ldflags="-s -w -X helm.sh/helm/v4/internal/version.version=$helm_version"
helm_ldflags+=" -X helm.sh/helm/v4/internal/version.metadata="
helm_ldflags+=" -X helm.sh/helm/v4/internal/version.gitTreeState=clean"

# --- build --------------------------------------------------------------------------
built_any=0
build() { # <name> <module dir> <package> <version stamp> <ldflags>
  local name="$1" dir="$2" pkg="$3" stamp="$4" ldflags="$5"
  local out="$bin_dir/$name" stamp_file="$bin_dir/.$name.version"
  local want="$stamp go$go_version"
  if [[ -x "$out" && -f "$stamp_file" && "$(cat "$stamp_file")" == "$want" ]]; then
    log "$name $stamp: already built, skipping"
    return
  fi
  log "$name $stamp: building $pkg (a cold build takes minutes)..."
  local start=$SECONDS
  # Build to a temporary name and rename, so an interrupted build never leaves a
  # half-written binary that a later run would take for a finished one.
  (cd "$dir" && go build -trimpath -ldflags "$ldflags" -o "$out.tmp.$$" "$pkg") \
    || { rm -f "$out.tmp.$$"; die "building $name failed (see the go output above)"; }
  mv -f "$out.tmp.$$" "$out"
  printf '%s\n' "$want" >"$stamp_file"
  built_any=1
  log "$name: done in $((SECONDS - start))s ($(du -h "$out" | cut -f1))"
}

total_start=$SECONDS
log "downloading modules (skipped when the module cache has them)..."
for m in k8s etcd helm; do
  (cd "$hack/$m" && go mod download) || die "go mod download failed in hack/$m (is the Go module proxy reachable?)"
done

build etcd "$hack/etcd" go.etcd.io/etcd/server/v3 "$etcd_version" "$etcd_ldflags"
build kube-apiserver "$hack/k8s" k8s.io/kubernetes/cmd/kube-apiserver "$k8s_version" "$k8s_ldflags"
build kube-controller-manager "$hack/k8s" k8s.io/kubernetes/cmd/kube-controller-manager "$k8s_version" "$k8s_ldflags"
build kubectl "$hack/k8s" k8s.io/kubernetes/cmd/kubectl "$k8s_version" "$k8s_ldflags"
build helm "$hack/helm" helm.sh/helm/v4/cmd/helm "$helm_version" "$helm_ldflags"

if ((built_any)); then
  log "all binaries built in $((SECONDS - total_start))s"
else
  log "all binaries were already in the cache"
fi
printf '%s\n' "$bin_dir"
