#!/usr/bin/env bash
# Prepares what the image tests (test/deploy/images.test.ts) and a build without Docker need:
# podman, runc and debootstrap (Debian packages, when absent), and, when neither a Docker engine
# nor the real `node:24-slim` image is there, a local stand-in for that base image, since the
# registries for base images may be out of reach: Debian bookworm (minbase, with Debian-slim's apt
# settings, like the image node:24-slim is built on), the project's own Node 24 binary, npm from
# the npm registry and the `node` user (1000:1000).
# podman runs with the project's deploy/podman/containers.conf (through CONTAINERS_CONF).
# Idempotent and quick on a second run: the Debian root file system and npm are cached in
# ~/.cache/fortellis-admin, and an existing stand-in of the same Node version is kept.
# Called by scripts/install-local-infra.sh (`npm run infra:install`); run alone, it does the same.
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CONTAINERS_CONF="$REPO_ROOT/deploy/podman/containers.conf"
# Kept in step with test/support/src/container-engine.ts.
STANDIN_IMAGE='localhost/fortellis-admin/node-standin:24-slim'
REAL_IMAGE='docker.io/library/node:24-slim'
DEBIAN_SUITE=bookworm
DEBIAN_MIRROR="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
NPM_VERSION=11.21.2
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/fortellis-admin"
NODE_BIN="$REPO_ROOT/node_modules/node/bin/node"

# shellcheck source=scripts/lib/log.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/log.sh"
SUDO=''
[ "$(id -u)" -ne 0 ] && SUDO='sudo'

missing=()
command -v podman >/dev/null 2>&1 || missing+=(podman)
command -v runc >/dev/null 2>&1 || [ -x /usr/sbin/runc ] || missing+=(runc)
command -v debootstrap >/dev/null 2>&1 || [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
# Compose's networks resolve service names (redis, mongo, ...) through netavark's aardvark-dns,
# which podman only recommends (deploy/podman/containers.conf asks for netavark): the CNI backend
# leaves DNS off on an internal network, and every service then fails with ENOTFOUND redis.
[ -x /usr/lib/podman/netavark ] || missing+=(netavark)
[ -x /usr/lib/podman/aardvark-dns ] || missing+=(aardvark-dns)
# netavark sets up each network's firewall rules with iptables, which it does not depend on: without
# it every container on a compose network fails to start ("netavark: No such file or directory").
command -v iptables >/dev/null 2>&1 || [ -x /usr/sbin/iptables ] || missing+=(iptables)
# `podman kube play` builds its pause image around catatonit, another of podman's recommends.
command -v catatonit >/dev/null 2>&1 || [ -x /usr/libexec/podman/catatonit ] || missing+=(catatonit)
# debootstrap checks Debian's signatures (an Ubuntu host lacks Debian's keys).
[ -e /usr/share/keyrings/debian-archive-keyring.gpg ] || missing+=(debian-archive-keyring)
if [ "${#missing[@]}" -eq 0 ]; then
  log "podman present: $(podman --version)"
else
  log "installing ${missing[*]} from Debian packages"
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 || {
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  }
fi

# Where a Docker engine answers, the tests build with it on the real base image.
if command -v docker >/dev/null 2>&1 && docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
  log 'a Docker engine answers: the image tests build with it on node:24-slim, no stand-in needed'
  exit 0
fi
if podman image exists "$REAL_IMAGE"; then
  log "$REAL_IMAGE present: no stand-in needed"
  exit 0
fi

node_version="$("$NODE_BIN" --version)"
label='org.fortellis-admin.node-version'
if podman image exists "$STANDIN_IMAGE" &&
  [ "$(podman image inspect --format "{{index .Config.Labels \"$label\"}}" "$STANDIN_IMAGE")" = "$node_version" ]; then
  log "base image stand-in present: $STANDIN_IMAGE (Node $node_version)"
  exit 0
fi

mkdir -p "$CACHE_DIR"
work="$(mktemp -d)"
trap '$SUDO rm -rf "$work"' EXIT

rootfs_tar="$CACHE_DIR/debian-$DEBIAN_SUITE-minbase.tar"
if [ ! -s "$rootfs_tar" ]; then
  log "debootstrap $DEBIAN_SUITE (minbase) from $DEBIAN_MIRROR"
  $SUDO debootstrap --variant=minbase "$DEBIAN_SUITE" "$work/debian" "$DEBIAN_MIRROR" >"$work/debootstrap.log" 2>&1 || {
    tail -20 "$work/debootstrap.log" >&2
    exit 1
  }
  root="$work/debian"
  # Debian-slim's apt and dpkg settings (as debuerreotype writes them for the debian:*-slim images):
  # no package cache kept after installs, compressed indexes, no translations, no documentation.
  $SUDO tee "$root/etc/apt/apt.conf.d/docker-clean" >/dev/null <<'EOF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
EOF
  printf 'Acquire::GzipIndexes "true";\nAcquire::CompressionTypes::Order:: "gz";\n' |
    $SUDO tee "$root/etc/apt/apt.conf.d/docker-gzip-indexes" >/dev/null
  printf 'Acquire::Languages "none";\n' | $SUDO tee "$root/etc/apt/apt.conf.d/docker-no-languages" >/dev/null
  printf 'Apt::AutoRemove::SuggestsImportant "false";\n' |
    $SUDO tee "$root/etc/apt/apt.conf.d/docker-autoremove-suggests" >/dev/null
  $SUDO tee "$root/etc/dpkg/dpkg.cfg.d/docker" >/dev/null <<'EOF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/lintian/*
path-exclude /usr/share/linda/*
path-exclude /usr/share/locale/*
EOF
  # The sources as the debian:bookworm image has them (updates and security included).
  $SUDO rm -f "$root/etc/apt/sources.list"
  $SUDO tee "$root/etc/apt/sources.list.d/debian.sources" >/dev/null <<EOF
Types: deb
URIs: $DEBIAN_MIRROR
Suites: $DEBIAN_SUITE $DEBIAN_SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: ${DEBIAN_MIRROR%/debian}/debian-security
Suites: $DEBIAN_SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  $SUDO find "$root/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  $SUDO find "$root/usr/share/doc" -mindepth 1 -type d -empty -delete
  $SUDO rm -rf "$root/usr/share/man/"* "$root/usr/share/info/"* "$root/usr/share/locale/"* \
    "$root/var/cache/apt/"*.bin "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"* \
    "$root/var/log/"*.log "$root/var/log/apt/"* "$root/var/cache/debconf/"*-old "$root/var/lib/dpkg/"*-old
  $SUDO tar -C "$root" --numeric-owner -cf "$rootfs_tar.partial" .
  mv "$rootfs_tar.partial" "$rootfs_tar"
  $SUDO rm -rf "$root"
  log "Debian root file system cached: $rootfs_tar ($(du -h "$rootfs_tar" | cut -f1))"
fi

npm_tgz="$CACHE_DIR/npm-$NPM_VERSION.tgz"
if [ ! -s "$npm_tgz" ]; then
  log "fetching npm $NPM_VERSION from the npm registry"
  (cd "$work" && npm pack "npm@$NPM_VERSION" --silent >/dev/null)
  mv "$work/npm-$NPM_VERSION.tgz" "$npm_tgz"
fi

log "assembling $STANDIN_IMAGE (Node $node_version, npm $NPM_VERSION)"
root="$work/base"
$SUDO mkdir -p "$root"
$SUDO tar -C "$root" --numeric-owner -xf "$rootfs_tar"
# Laid out as the official image has it: node and npm under /usr/local.
$SUDO install -m 0755 "$NODE_BIN" "$root/usr/local/bin/node"
$SUDO mkdir -p "$root/usr/local/lib/node_modules/npm"
$SUDO tar -C "$root/usr/local/lib/node_modules/npm" --strip-components=1 --no-same-owner -xzf "$npm_tgz"
$SUDO ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
$SUDO ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
$SUDO chroot "$root" groupadd --gid 1000 node
$SUDO chroot "$root" useradd --uid 1000 --gid node --shell /bin/bash --create-home node
$SUDO rm -f "$root/var/log/"*.log "$root/etc/"{passwd,group,shadow,gshadow}-
$SUDO tar -C "$root" --numeric-owner -c . |
  podman import --quiet \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change "ENV NODE_VERSION=${node_version#v}" \
    --change "LABEL $label=$node_version" \
    --change 'CMD ["node"]' \
    - "$STANDIN_IMAGE" >/dev/null
log "base image stand-in ready: $STANDIN_IMAGE ($(podman image inspect --format '{{.Size}}' "$STANDIN_IMAGE") bytes)"
