#!/usr/bin/env bash
# Installs, when absent, the local binaries the tests and the local stack fall back to when neither
# REDIS_URL/MONGODB_URL nor a Docker engine is available: redis-server (Debian package) and
# FerretDB v1.24.2 (built from the Go module proxy), Debian's Chromium for the browser test of
# Bull Board, kustomize (Go module proxy) for the deployment test, which renders the overlays,
# promtool (Debian's prometheus package) for the monitoring test, which runs the alert rules' unit
# tests, podman with a local stand-in base image for the image tests, and Toxiproxy (Go module
# proxy) for the network faults of the fault suite.
# Idempotent: a second run does nothing.
set -euo pipefail

FERRETDB_VERSION=v1.24.2
KUSTOMIZE_VERSION=v5.7.1
# Debian bookworm's prometheus package (its promtool runs the alert rules' unit tests).
PROMTOOL_DEBIAN_VERSION=2.42.0
FERRETDB_MODULE=github.com/FerretDB/FerretDB

log() { printf 'infra:install: %s\n' "$*"; }

if command -v redis-server >/dev/null 2>&1; then
  log "redis-server present: $(redis-server --version | head -c 60)"
else
  log 'installing redis-server from Debian packages'
  SUDO=''
  [ "$(id -u)" -ne 0 ] && SUDO='sudo'
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq redis-server >/dev/null
fi

# The browser test drives Debian's Chromium through playwright-core (never a downloaded browser).
if [ -x /usr/bin/chromium ]; then
  log "chromium present: $(/usr/bin/chromium --version 2>/dev/null | head -c 60)"
else
  log 'installing chromium from Debian packages'
  SUDO=''
  [ "$(id -u)" -ne 0 ] && SUDO='sudo'
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null 2>&1 || {
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium >/dev/null
  }
fi

# The image tests build deploy/Dockerfile: podman, runc, and a stand-in for node:24-slim where no
# Docker engine answers and the real image is absent (scripts/install-container-engine.sh).
bash "$(dirname "${BASH_SOURCE[0]}")/install-container-engine.sh"
# The compose test runs docker-compose.yml: a compose CLI (scripts/install-compose-tools.sh).
bash "$(dirname "${BASH_SOURCE[0]}")/install-compose-tools.sh"
# The fault suite puts Toxiproxy between the services and Redis, MongoDB and the outside parties
# (scripts/install-toxiproxy.sh).
bash "$(dirname "${BASH_SOURCE[0]}")/install-toxiproxy.sh"

if ! command -v go >/dev/null 2>&1; then
  if command -v ferretdb >/dev/null 2>&1; then exit 0; fi
  echo 'infra:install: Go is needed to build FerretDB (https://go.dev/dl), or set MONGODB_URL' >&2
  exit 1
fi

gobin="$(go env GOBIN)"
[ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
if [ -x "$gobin/kustomize" ] && "$gobin/kustomize" version 2>/dev/null | grep -q "$KUSTOMIZE_VERSION"; then
  log "kustomize $KUSTOMIZE_VERSION present: $gobin/kustomize"
else
  log "building kustomize $KUSTOMIZE_VERSION into $gobin"
  GOFLAGS=-mod=mod go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION"
fi

# promtool comes ready-made in Debian's `prometheus` package: only the promtool binary is taken out
# of the package (dpkg-deb -x), never installed, so no Prometheus server is set up or started.
# (Building it from the Go module proxy took 4-30 minutes of a 2-core machine.)
if [ -x "$gobin/promtool" ] && "$gobin/promtool" --version 2>/dev/null | grep -q "version $PROMTOOL_DEBIAN_VERSION"; then
  log "promtool present: $gobin/promtool"
else
  log "taking promtool out of Debian's prometheus $PROMTOOL_DEBIAN_VERSION package into $gobin"
  scratch="$(mktemp -d)"
  (cd "$scratch" && apt-get download -qq prometheus >/dev/null 2>&1) || {
    SUDO=''
    [ "$(id -u)" -ne 0 ] && SUDO='sudo'
    $SUDO apt-get update -qq
    (cd "$scratch" && apt-get download -qq prometheus >/dev/null 2>&1)
  }
  dpkg-deb -x "$scratch"/prometheus_*.deb "$scratch/x"
  mkdir -p "$gobin"
  install -m 0755 "$scratch/x/usr/bin/promtool" "$gobin/promtool"
  rm -rf "$scratch"
  "$gobin/promtool" --version | head -n 1
fi

target="$gobin/ferretdb"
if [ -x "$target" ] && "$target" --version 2>/dev/null | grep -q "version: $FERRETDB_VERSION"; then
  log "ferretdb $FERRETDB_VERSION present: $target"
  exit 0
fi

log "building ferretdb $FERRETDB_VERSION into $target"
# `go install module@version` is not enough: it asks the proxy for the module's version list (to
# check deprecation), which the proxy here refuses, and the module zip lacks the generated
# build/version/version.txt, without which the binary panics at start. So: download the exact
# version, copy it to a scratch folder, write the version file as FerretDB's own build does, build.
dir="$(go mod download -json "$FERRETDB_MODULE@$FERRETDB_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
if [ -z "$dir" ] || [ ! -d "$dir" ]; then
  echo "infra:install: could not download $FERRETDB_MODULE@$FERRETDB_VERSION" >&2
  exit 1
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$dir/." "$work/"
chmod -R u+w "$work"
echo "$FERRETDB_VERSION" > "$work/build/version/version.txt"
mkdir -p "$gobin"
(cd "$work" && CGO_ENABLED=0 go build -trimpath -o "$target" ./cmd/ferretdb)
log "ferretdb ready: $("$target" --version | head -1)"
