#!/usr/bin/env bash
# Installs, when absent, Toxiproxy v2.5.0 (github.com/Shopify/toxiproxy/v2, built from the Go
# module proxy): the TCP proxy the fault suite puts between the services and Redis, MongoDB and the
# outside parties to inject latency, partitions, connection resets and slow closes. Only the server
# (`toxiproxy-server`, driven over its HTTP API by test/support/src/toxiproxy.ts) is built, into
# GOBIN. Called by install-local-infra.sh; idempotent: a second run does nothing.
set -euo pipefail

TOXIPROXY_VERSION=v2.5.0
TOXIPROXY_MODULE=github.com/Shopify/toxiproxy/v2

# shellcheck source=scripts/lib/log.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/log.sh"

if ! command -v go >/dev/null 2>&1; then
  # Not fatal here: the other tools do not need it, and the fault tests say what is missing.
  log 'no toxiproxy-server: Go is needed to build it (https://go.dev/dl)' >&2
  exit 0
fi

# shellcheck source=scripts/lib/go-build.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/go-build.sh"
# Its ./cmd/server, from the module's own go.mod and go.sum (scripts/lib/go-build.sh). The version
# is stamped as its release build does, so `toxiproxy-server -version` names it (and the check
# finds it next time).
go_tool toxiproxy-server "$TOXIPROXY_VERSION" "$TOXIPROXY_MODULE" ./cmd/server -version \
  "version $TOXIPROXY_VERSION" "-X $TOXIPROXY_MODULE.Version=$TOXIPROXY_VERSION"
