# shellcheck shell=bash
# Sourced by scripts/install-local-infra.sh, install-compose-tools.sh and install-toxiproxy.sh:
# the one way they check and build a Go tool from the Go module proxy. Needs `go` on PATH.
# shellcheck source=scripts/lib/log.sh
. "$(dirname "${BASH_SOURCE[0]}")/log.sh"

# Where `go install` puts binaries: GOBIN, else GOPATH's bin (the tests look there too).
go_bin_dir() {
  local dir
  dir="$(go env GOBIN)"
  [ -n "$dir" ] || dir="$(go env GOPATH)/bin"
  printf '%s\n' "$dir"
}

# go_tool_present TARGET PATTERN ARG...: true when TARGET is executable and `TARGET ARG...` prints
# PATTERN (its version), so a binary of the right version is never rebuilt. The output is read
# whole before grep (with `| grep -q`, grep may end the binary with SIGPIPE, which pipefail sees).
go_tool_present() {
  local target=$1 pattern=$2 out
  shift 2
  [ -x "$target" ] || return 1
  out="$("$target" "$@" 2>/dev/null)" || return 1
  grep -q -- "$pattern" <<<"$out"
}

# go_tool NAME VERSION MODULE PACKAGE VERSION_ARG PATTERN LDFLAGS [PREPARE]
# Installs the Go tool NAME (the binary's name) into go_bin_dir unless a binary there already
# prints PATTERN for `NAME VERSION_ARG`: package PACKAGE (a path inside the module, e.g. ./cmd) of
# MODULE@VERSION. `go install module@version` is not used: it asks the proxy for the module's
# version list (to check deprecation), which the proxy here refuses. So the exact version is
# downloaded (`go mod download`, no version list asked) and built from the module's own go.mod and
# go.sum: static (CGO_ENABLED=0) and -trimpath, as every tool here, so they all reuse one compiled
# standard library from GOCACHE; stripped (-ldflags '-s -w', plus LDFLAGS: the version stamp, so
# that the check above finds it next time). With PREPARE (a function name), the module is first
# copied to a scratch folder and PREPARE runs there (FerretDB writes its version file). The binary
# is replaced only once the build succeeded. The go command's output goes to a log file of its own
# (builds run side by side), printed only when the build fails.
go_tool() {
  local name=$1 version=$2 module=$3 package=$4 version_arg=$5 pattern=$6 ldflags=$7 prepare=${8:-}
  local target
  target="$(go_bin_dir)/$name"
  if go_tool_present "$target" "$pattern" "$version_arg"; then
    log "$name $version present: $target"
    return 0
  fi
  log "building $name $version into $target"
  go_logged "$name" _go_build_module "$module" "$version" "$package" "$target" "$ldflags" "$prepare" || return
  log "$name ready: $("$target" "$version_arg" 2>&1 | head -1)"
}

# go_logged NAME COMMAND...: runs COMMAND with its output in a log file, removed on success. On
# failure returns COMMAND's status and prints the log to stderr, or, when install-local-infra.sh
# runs the builds in the background (INFRA_LOG_DIR set, the logs are there), leaves the log for it
# to print once it has waited for every build, so that nothing is printed amid other lines.
go_logged() {
  local name=$1 file rc=0
  shift
  if [ -n "${INFRA_LOG_DIR:-}" ]; then
    file="$INFRA_LOG_DIR/$name.log"
    : >"$file"
  else
    file="$(mktemp "${TMPDIR:-/tmp}/infra-$name.XXXXXX")"
  fi
  "$@" >>"$file" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ]; then
    rm -f "$file"
    return 0
  fi
  log "building $name failed (exit $rc): its log is $file" >&2
  [ -n "${INFRA_LOG_DIR:-}" ] || sed 's/^/  | /' "$file" >&2
  return "$rc"
}

# _go_build_module MODULE VERSION PACKAGE TARGET LDFLAGS PREPARE (see go_tool), in a subshell.
# Every step checks its status itself: it runs under `||`, where bash ignores set -e.
_go_build_module() (
  module=$1 version=$2 package=$3 target=$4 ldflags=$5 prepare=$6
  echo "+ go mod download -json $module@$version"
  json="$(go mod download -json "$module@$version")"
  dir="$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$json")"
  if [ -z "$dir" ] || [ ! -d "$dir" ]; then
    printf '%s\ncould not download %s\n' "$json" "$module@$version" >&2
    exit 1
  fi
  if [ -n "$prepare" ]; then
    work="$(mktemp -d)" || exit
    trap 'rm -rf "$work"' EXIT
    cp -r "$dir/." "$work/" && chmod -R u+w "$work" || exit
    (cd "$work" && "$prepare") || exit
    dir="$work"
  fi
  mkdir -p "$(dirname "$target")" && cd "$dir" || exit
  echo "+ (cd $dir && CGO_ENABLED=0 go build -mod=mod -trimpath -ldflags '-s -w $ldflags' -o $target.tmp $package)"
  CGO_ENABLED=0 go build -mod=mod -trimpath -ldflags "-s -w $ldflags" -o "$target.tmp" "$package" || exit
  mv "$target.tmp" "$target"
)
