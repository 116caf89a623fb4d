#!/usr/bin/env bash
# Installs, when absent, Toxiproxy v2.5.0 (github.com/Shopify/toxiproxy/v2, built from the Go
# module proxy): the TCP proxy the fault suite puts between the services and Redis, MongoDB and the
# outside parties to inject latency, partitions, connection resets and slow closes. Only the server
# (`toxiproxy-server`, driven over its HTTP API by test/support/src/toxiproxy.ts) is built, into
# GOBIN. Called by install-local-infra.sh; idempotent: a second run does nothing.
set -euo pipefail

TOXIPROXY_VERSION=v2.5.0
TOXIPROXY_MODULE=github.com/Shopify/toxiproxy/v2

log() { printf 'infra:install: %s\n' "$*"; }

if ! command -v go >/dev/null 2>&1; then
  # Not fatal here: the other tools do not need it, and the fault tests say what is missing.
  echo 'infra:install: no toxiproxy-server: Go is needed to build it (https://go.dev/dl)' >&2
  exit 0
fi

gobin="$(go env GOBIN)"
[ -n "$gobin" ] || gobin="$(go env GOPATH)/bin"
target="$gobin/toxiproxy-server"
if [ -x "$target" ] && "$target" -version 2>/dev/null | grep -q "version $TOXIPROXY_VERSION"; then
  log "toxiproxy-server $TOXIPROXY_VERSION present: $target"
  exit 0
fi

log "building toxiproxy-server $TOXIPROXY_VERSION into $target"
# As for FerretDB: download the exact version (no version list asked of the proxy) and build its
# ./cmd/server from the module's own go.mod and go.sum. The version is stamped as its release build
# does, so `toxiproxy-server -version` names it (and the check above finds it next time).
dir="$(go mod download -json "$TOXIPROXY_MODULE@$TOXIPROXY_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
if [ -z "$dir" ] || [ ! -d "$dir" ]; then
  echo "infra:install: could not download $TOXIPROXY_MODULE@$TOXIPROXY_VERSION" >&2
  exit 1
fi
mkdir -p "$gobin"
(cd "$dir" && CGO_ENABLED=0 GOFLAGS=-mod=mod go build -trimpath \
  -ldflags "-s -w -X $TOXIPROXY_MODULE.Version=$TOXIPROXY_VERSION" \
  -o "$target.tmp" ./cmd/server)
mv "$target.tmp" "$target"
log "toxiproxy-server ready: $("$target" -version)"
