#!/usr/bin/env bash
# Installs, when absent, the compose CLI the compose test (test/deploy/compose.test.ts) runs the
# shipped docker-compose.yml with: Docker Compose v5.6.0, built from the Go module proxy
# (github.com/docker/compose/v5, its ./cmd, the same binary as the `docker compose` CLI plugin,
# which also runs standalone) into GOBIN as `docker-compose`. Where no Docker engine runs, the test
# points it at podman's Docker-compatible API (`podman system service`) on a socket of its own.
# Skipped when a `docker compose` that works is already there. Called by install-local-infra.sh;
# idempotent: a second run does nothing. The first build takes a few minutes.
set -euo pipefail

COMPOSE_VERSION=v5.6.0
COMPOSE_MODULE=github.com/docker/compose/v5

log() { printf 'infra:install: %s\n' "$*"; }

if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  log "docker compose present: $(docker compose version | head -1)"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  # Not fatal here: the other tools do not need it, and the compose test says what is missing.
  echo 'infra:install: no compose CLI: Go is needed to build it (https://go.dev/dl)' >&2
  exit 0
fi

gobin="$(go env GOBIN)"
[ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
target="$gobin/docker-compose"
if [ -x "$target" ] && "$target" version 2>/dev/null | grep -q "version $COMPOSE_VERSION"; then
  log "docker-compose $COMPOSE_VERSION present: $target"
  exit 0
fi

log "building docker-compose $COMPOSE_VERSION into $target"
# As for FerretDB: download the exact version (no version list asked of the proxy) and build its
# ./cmd from the module's own go.mod and go.sum. The version is stamped as the project's Makefile
# does, so `docker-compose version` names it (and the check above finds it next time).
dir="$(go mod download -json "$COMPOSE_MODULE@$COMPOSE_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
if [ -z "$dir" ] || [ ! -d "$dir" ]; then
  echo "infra:install: could not download $COMPOSE_MODULE@$COMPOSE_VERSION" >&2
  exit 1
fi
mkdir -p "$gobin"
(cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath \
  -ldflags "-s -w -X $COMPOSE_MODULE/internal.Version=$COMPOSE_VERSION" \
  -o "$target.tmp" ./cmd)
mv "$target.tmp" "$target"
log "docker-compose ready: $("$target" version)"
