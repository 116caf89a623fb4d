#!/usr/bin/env bash
# Installs, when absent, the compose CLI the compose test (test/deploy/compose.test.ts) runs the
# shipped docker-compose.yml with: Docker Compose v5.6.0, built from the Go module proxy
# (github.com/docker/compose/v5, its ./cmd, the same binary as the `docker compose` CLI plugin,
# which also runs standalone) into GOBIN as `docker-compose`. Where no Docker engine runs, the test
# points it at podman's Docker-compatible API (`podman system service`) on a socket of its own.
# Skipped when a `docker compose` that works is already there. Called by install-local-infra.sh;
# idempotent: a second run does nothing. The first build takes about two minutes.
set -euo pipefail

COMPOSE_VERSION=v5.6.0
COMPOSE_MODULE=github.com/docker/compose/v5

# shellcheck source=scripts/lib/log.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/log.sh"

if command -v docker >/dev/null 2>&1 && docker compose version >/dev/null 2>&1; then
  log "docker compose present: $(docker compose version | head -1)"
  exit 0
fi
if ! command -v go >/dev/null 2>&1; then
  # Not fatal here: the other tools do not need it, and the compose test says what is missing.
  log 'no compose CLI: Go is needed to build it (https://go.dev/dl)' >&2
  exit 0
fi

# shellcheck source=scripts/lib/go-build.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/go-build.sh"
# Its ./cmd, from the module's own go.mod and go.sum (scripts/lib/go-build.sh). The version is
# stamped as the project's Makefile does, so `docker-compose version` names it (and the check finds
# it next time).
go_tool docker-compose "$COMPOSE_VERSION" "$COMPOSE_MODULE" ./cmd version "version $COMPOSE_VERSION" \
  "-X $COMPOSE_MODULE/internal.Version=$COMPOSE_VERSION"
