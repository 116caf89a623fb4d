# shellcheck shell=bash
# Sourced by scripts/install-*.sh: `log` prints one line, prefixed with the seconds since
# `npm run infra:install` (or the script run alone) started, so a cold run's log shows where the
# time went. INFRA_INSTALL_T0 is exported, so the sibling scripts and the background builds
# started by install-local-infra.sh count from the same start.
if [ -z "${INFRA_INSTALL_T0:-}" ]; then
  INFRA_INSTALL_T0="$(date +%s)"
  export INFRA_INSTALL_T0
fi

log() { printf 'infra:install: [%ss] %s\n' "$(($(date +%s) - INFRA_INSTALL_T0))" "$*"; }
