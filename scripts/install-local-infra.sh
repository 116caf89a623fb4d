#!/usr/bin/env bash
# Installs, when absent, the local binaries the tests and the local stack fall back to when neither
# REDIS_URL/MONGODB_URL nor a Docker engine is available: redis-server (Debian package) and
# FerretDB v1.24.2 (built from the Go module proxy), Debian's Chromium for the browser test of
# Bull Board, kustomize (Go module proxy) for the deployment test, which renders the overlays,
# promtool (Debian's prometheus package) for the monitoring test, which runs the alert rules' unit
# tests, podman with a local stand-in base image for the image tests, and Toxiproxy (Go module
# proxy) for the network faults of the fault suite.
# The four Go builds (Docker Compose, Toxiproxy, kustomize, FerretDB) need only Go and the module
# proxy: they start first, in the background, each with its output in a log file of its own, and
# run while the Debian packages, debootstrap and the stand-in image are installed; the script then
# waits for them and fails, showing the build's log, if one failed. Every log line carries the
# seconds since the start.
# Idempotent: a second run builds and installs nothing.
set -euo pipefail

FERRETDB_VERSION=v1.24.2
KUSTOMIZE_VERSION=v5.7.1
# Debian bookworm's prometheus package (its promtool runs the alert rules' unit tests).
PROMTOOL_DEBIAN_VERSION=2.42.0
FERRETDB_MODULE=github.com/FerretDB/FerretDB
KUSTOMIZE_MODULE=sigs.k8s.io/kustomize/kustomize/v5

SCRIPTS="$(dirname "${BASH_SOURCE[0]}")"
# shellcheck source=scripts/lib/log.sh
. "$SCRIPTS/lib/log.sh"

# The background jobs: each in a process group of its own (set -m), so that an early exit (a
# failed apt-get, Ctrl-C) stops the whole build, go command included, not only its shell.
job_pids=()
job_names=()
start_job() {
  local name=$1
  shift
  set -m
  "$@" &
  set +m
  job_pids+=("$!")
  job_names+=("$name")
}
# On an early exit: stops the builds still running and drops their unfinished logs.
stop_jobs() {
  local pid
  [ "${#job_pids[@]}" -gt 0 ] || return 0
  for pid in "${job_pids[@]}"; do
    kill -- "-$pid" 2>/dev/null || true
  done
  rm -rf "$INFRA_LOG_DIR"
}
# wait_jobs: waits for every job, then prints the log of each failed build (see go_logged in
# scripts/lib/go-build.sh) and fails with the first failing job's status.
wait_jobs() {
  local i rc status=0 file
  for i in "${!job_pids[@]}"; do
    rc=0
    wait "${job_pids[$i]}" || rc=$?
    if [ "$rc" -ne 0 ]; then
      log "${job_names[$i]} failed (exit $rc)" >&2
      [ "$status" -ne 0 ] || status=$rc
    fi
  done
  job_pids=()
  job_names=()
  for file in "$INFRA_LOG_DIR"/*.log; do
    [ -e "$file" ] || continue
    log "$file:" >&2
    sed 's/^/  | /' "$file" >&2
  done
  return "$status"
}

# FerretDB: `go install module@version` is not enough (see go_tool in scripts/lib/go-build.sh), and
# the module zip lacks the generated build/version/version.txt, without which the binary panics at
# start: it is written into the copy of the module, as FerretDB's own build does.
write_ferretdb_version() { echo "$FERRETDB_VERSION" >build/version/version.txt; }
build_ferretdb() {
  go_tool ferretdb "$FERRETDB_VERSION" "$FERRETDB_MODULE" ./cmd/ferretdb --version \
    "version: $FERRETDB_VERSION" '' write_ferretdb_version
}
# kustomize (pure Go): the version stamped as its release build does, so `kustomize version`
# names it as `go install ...@version` would.
build_kustomize() {
  go_tool kustomize "$KUSTOMIZE_VERSION" "$KUSTOMIZE_MODULE" . version "$KUSTOMIZE_VERSION" \
    "-X sigs.k8s.io/kustomize/api/provenance.version=$KUSTOMIZE_VERSION"
}
# The compose test runs docker-compose.yml: a compose CLI (scripts/install-compose-tools.sh). The
# fault suite puts Toxiproxy between the services and Redis, MongoDB and the outside parties
# (scripts/install-toxiproxy.sh).
build_compose() { bash "$SCRIPTS/install-compose-tools.sh"; }
build_toxiproxy() { bash "$SCRIPTS/install-toxiproxy.sh"; }

have_go=false
if command -v go >/dev/null 2>&1; then
  have_go=true
  # shellcheck source=scripts/lib/go-build.sh
  . "$SCRIPTS/lib/go-build.sh"
  gobin="$(go_bin_dir)"
  INFRA_LOG_DIR="$(mktemp -d "${TMPDIR:-/tmp}/infra-install.XXXXXX")"
  export INFRA_LOG_DIR
  # A failed build's log stays (its path is printed); the folder goes when it is empty.
  trap 'stop_jobs; rmdir "$INFRA_LOG_DIR" 2>/dev/null || true' EXIT
  start_job 'Go builds (docker-compose, toxiproxy-server)' eval 'build_compose && build_toxiproxy'
  start_job 'Go builds (kustomize, ferretdb)' eval 'build_kustomize && build_ferretdb'
fi

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
  log 'chromium installed'
fi

# The image tests build deploy/Dockerfile: podman, runc, and a stand-in for node:24-slim where no
# Docker engine answers and the real image is absent (scripts/install-container-engine.sh).
bash "$SCRIPTS/install-container-engine.sh"

if ! $have_go; then
  # Without Go, the compose CLI and Toxiproxy are skipped (each script says so), and FerretDB and
  # kustomize cannot be built.
  build_compose
  build_toxiproxy
  if command -v ferretdb >/dev/null 2>&1; then exit 0; fi
  log 'Go is needed to build FerretDB (https://go.dev/dl), or set MONGODB_URL' >&2
  exit 1
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
  log "promtool ready: $("$gobin/promtool" --version | head -n 1)"
fi

[ "${#job_pids[@]}" -eq 0 ] || log 'waiting for the Go builds'
wait_jobs
log 'done'
