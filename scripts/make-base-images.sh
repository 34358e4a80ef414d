#!/usr/bin/env bash
# Make local base images for the project's Dockerfile when no container registry can be reached
# (the image test, test/image/): a Node 24 build base (Debian bookworm minbase + node + npm) and a
# small runtime base (node, the shared libraries it links, passwd/group with nonroot 65532),
# imported into the engine at $DOCKER_HOST with `docker import`. Nothing is pulled.
#
# The root file systems are made once with debootstrap (about 30 s) and kept as tarballs in the
# cache, named by a content tag (this script, the node binary, the npm version, the suite and the
# CA bundle); a later run only imports them, and skips the import when the engine has the tag.
#
# Usage: scripts/make-base-images.sh [--no-import]
#   DOCKER_HOST          engine to import into (the docker CLI's default when unset)
#   ENVLESS_IMAGE_CACHE  cache directory (default: $HOME/.cache/envless/images)
#   NODE_BINARY          Node 24 binary (default: node_modules/node/bin/node, the devDependency)
#   NPM_VERSION          npm packed from the npm registry into the build base (default below)
#   DEBIAN_SUITE         default bookworm;  DEBIAN_MIRROR default http://deb.debian.org/debian
#   HOST_CA_BUNDLE       CA bundle copied into the BUILD base only, with NODE_EXTRA_CA_CERTS set,
#                        so that `npm ci` inside the build trusts the same TLS proxies as the host
#                        (default: /etc/ssl/certs/ca-certificates.crt when it exists; "" for none)
# Prints, as its last two lines:  build=<image ref>  and  runtime=<image ref>
# Needs root (debootstrap, chroot), debootstrap (installed with apt-get when missing) and npm.
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
self="$repo_root/scripts/make-base-images.sh"

log() { printf '[base-images] %s\n' "$*" >&2; }
die() { printf '[base-images] ERROR: %s\n' "$*" >&2; exit 1; }

import=1
case "${1:-}" in
  --no-import) import=0 ;;
  '') ;;
  *) die "unknown argument $1 (usage: $0 [--no-import])" ;;
esac

cache="${ENVLESS_IMAGE_CACHE:-$HOME/.cache/envless/images}"
node_binary="${NODE_BINARY:-$repo_root/node_modules/node/bin/node}"
npm_version="${NPM_VERSION:-11.19.1}"
suite="${DEBIAN_SUITE:-bookworm}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
default_ca=/etc/ssl/certs/ca-certificates.crt
ca_bundle="${HOST_CA_BUNDLE-$([[ -f $default_ca ]] && printf '%s' "$default_ca")}"

[[ "$(id -u)" == 0 ]] || die "needs root (debootstrap and chroot)"
[[ -x "$node_binary" ]] || die "no Node binary at $node_binary (run npm ci, or set NODE_BINARY)"
node_version="$("$node_binary" --version)"
[[ "$node_version" == v24.* ]] || die "$node_binary is $node_version, not Node 24"
[[ -z "$ca_bundle" || -f "$ca_bundle" ]] || die "HOST_CA_BUNDLE=$ca_bundle does not exist"
mkdir -p "$cache"

sha() { sha256sum "$@" | cut -c1-64; }
tag="$(
  {
    sha "$self"
    sha "$node_binary"
    printf '%s\n' "$npm_version" "$suite" "$mirror"
    [[ -z "$ca_bundle" ]] || sha "$ca_bundle"
  } | sha256sum | cut -c1-12
)"
build_tar="$cache/build-$tag.tar"
runtime_tar="$cache/runtime-$tag.tar"
build_ref="envless-test/node24-build:$tag"
runtime_ref="envless-test/node24-runtime:$tag"

ensure_debootstrap() {
  command -v debootstrap >/dev/null 2>&1 && return
  PATH="$PATH:/usr/sbin:/sbin" command -v debootstrap >/dev/null 2>&1 && return
  log "installing debootstrap with apt-get"
  flock /tmp/envless-apt.lock sh -c \
    'apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap' >&2 ||
    die "apt-get install debootstrap failed"
}

# npm as published (its dependencies are bundled in the tarball), cached by version.
npm_tarball() {
  local tgz="$cache/npm-$npm_version.tgz"
  if [[ ! -s "$tgz" ]]; then
    local dir
    dir="$(mktemp -d "$cache/.npm-XXXXXX")"
    (cd "$dir" && npm pack --silent "npm@$npm_version" >/dev/null) || die "npm pack npm@$npm_version failed"
    mv "$dir"/npm-*.tgz "$tgz"
    rm -rf "$dir"
  fi
  printf '%s' "$tgz"
}

unmount_under() { # debootstrap mounts /proc and /sys in the target; never leave them behind
  local point
  awk -v d="$1" '$5 == d || index($5, d "/") == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r point; do umount -l "$point" 2>/dev/null || true; done
}

make_root_filesystems() {
  local work root runtime
  work="$(mktemp -d "$cache/.work-XXXXXX")"
  # shellcheck disable=SC2064 # expand now: the trap must clean this run's directory
  trap "unmount_under '$work'; rm -rf '$work'" EXIT
  root="$work/build"
  runtime="$work/runtime"

  log "debootstrap --variant=minbase $suite from $mirror (once per content tag; about 30 s)"
  PATH="$PATH:/usr/sbin:/sbin" debootstrap --variant=minbase "$suite" "$root" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    die "debootstrap failed: $(tail -n 20 "$work/debootstrap.log")"
  unmount_under "$root"
  # What debian:*-slim leaves out too: package caches, lists, docs, man pages, translations.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* \
    "$root"/usr/share/man/* "$root"/usr/share/info/* "$root"/usr/share/locale/*

  # The official node images' layout: /usr/local/bin/node, npm under /usr/local/lib/node_modules.
  install -D -m 0755 "$node_binary" "$root/usr/local/bin/node"
  mkdir -p "$root/usr/local/lib/node_modules/npm"
  tar -xzf "$(npm_tarball)" -C "$root/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
  if [[ -n "$ca_bundle" ]]; then
    install -D -m 0644 "$ca_bundle" "$root/etc/ssl/certs/ca-certificates.crt"
  fi
  chroot "$root" /usr/local/bin/node --version >/dev/null || die "node does not run in the $suite root"

  # Runtime: only node, what it links (read from ldd inside the same root), and the accounts.
  install -D -m 0755 "$node_binary" "$runtime/usr/local/bin/node"
  # Paths are resolved inside the root: its symlinks may be absolute (/lib64/ld-linux-x86-64.so.2).
  local lib real
  for lib in $(chroot "$root" ldd /usr/local/bin/node | awk '/=> \// { print $3 } /^\t\// { print $1 }'); do
    real="$(chroot "$root" readlink -f "$lib")"
    install -D -m 0755 "$root$real" "$runtime$lib"
  done
  mkdir -p "$runtime/etc" "$runtime/home/nonroot" "$runtime/tmp"
  chmod 1777 "$runtime/tmp"
  chown 65532:65532 "$runtime/home/nonroot"
  printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' 'nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin' \
    >"$runtime/etc/passwd"
  printf '%s\n' 'root:x:0:' 'nonroot:x:65532:' >"$runtime/etc/group"
  printf '%s\n' 'passwd: files' 'group: files' 'hosts: files dns' >"$runtime/etc/nsswitch.conf"
  chroot "$runtime" /usr/local/bin/node -e 'process.exit(0)' || die "node does not run in the runtime root"

  tar --numeric-owner -C "$root" -cf "$build_tar.part" . && mv "$build_tar.part" "$build_tar"
  tar --numeric-owner -C "$runtime" -cf "$runtime_tar.part" . && mv "$runtime_tar.part" "$runtime_tar"
  unmount_under "$work"
  rm -rf "$work"
  trap - EXIT
  # Keep one generation: tarballs of other tags are stale.
  find "$cache" -maxdepth 1 \( -name 'build-*.tar' -o -name 'runtime-*.tar' \) ! -name "*-$tag.tar" -delete
}

# One maker at a time per cache (concurrent test runs); a waiter then finds the tarballs made.
exec 9>"$cache/.lock"
flock 9
if [[ -s "$build_tar" && -s "$runtime_tar" ]]; then
  log "cached root file systems $tag"
else
  ensure_debootstrap
  started=$SECONDS
  make_root_filesystems
  log "made root file systems $tag in $((SECONDS - started)) s"
fi
flock -u 9

if ((import)); then
  imported() { docker image inspect "$1" >/dev/null 2>&1; }
  if ! imported "$build_ref"; then
    change=(--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' --change 'CMD ["node"]')
    [[ -z "$ca_bundle" ]] || change+=(--change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt')
    docker import "${change[@]}" "$build_tar" "$build_ref" >/dev/null
  fi
  if ! imported "$runtime_ref"; then
    # Like distroless :nonroot: user 65532, no shell, node as the entrypoint.
    docker import --change 'ENV PATH=/usr/local/bin' --change 'USER 65532:65532' \
      --change 'WORKDIR /home/nonroot' --change 'ENTRYPOINT ["/usr/local/bin/node"]' \
      "$runtime_tar" "$runtime_ref" >/dev/null
  fi
  log "imported $build_ref and $runtime_ref"
fi
printf 'build=%s\nruntime=%s\n' "$build_ref" "$runtime_ref"
