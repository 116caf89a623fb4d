#!/bin/sh
# Renders what the highly available compose set-up (deploy/compose/ha.yml) gives Redis, at each
# start, into a private writable folder (a tmpfs):
#   sh render-ha.sh node DIR      DIR/users.acl: users.acl and replication.acl with their
#                                 passwords (render-acl.sh); DIR/replication.conf: how this node
#                                 authenticates to its primary (user `replica`).
#   sh render-ha.sh sentinel DIR  DIR/sentinel.conf: sentinel.conf with the password of the
#                                 Sentinels' user `failover` on the data nodes and their own.
# Both data nodes get the same files: either may be the primary after a failover, and the other
# then replicates from it. Passwords come from the environment (REDIS_<USER>_PASSWORD, and
# REDIS_SENTINEL_PASSWORD for the Sentinels themselves); an unset one stops the start.
set -eu
here=$(dirname "$0")
mode=$1
dir=$2
umask 077
need() {
  value=$(printenv "$1" || true)
  if [ -z "$value" ]; then
    echo "render-ha: $1 is not set" >&2
    exit 1
  fi
  printf %s "$value"
}
case "$mode" in
  node)
    sh "$here/render-acl.sh" "$here/users.acl" "$dir/users.acl"
    sh "$here/render-acl.sh" "$here/replication.acl" "$dir/replication.acl.part"
    cat "$dir/replication.acl.part" >> "$dir/users.acl"
    rm -f "$dir/replication.acl.part"
    printf 'masteruser replica\nmasterauth %s\n' "$(need REDIS_REPLICA_PASSWORD)" \
      > "$dir/replication.conf"
    ;;
  sentinel)
    failover=$(need REDIS_FAILOVER_PASSWORD)
    own=$(need REDIS_SENTINEL_PASSWORD)
    cp "$here/sentinel.conf" "$dir/sentinel.conf"
    printf 'sentinel auth-pass fortellis-admin %s\nrequirepass %s\nsentinel sentinel-pass %s\n' \
      "$failover" "$own" "$own" >> "$dir/sentinel.conf"
    ;;
  *)
    echo "render-ha: node or sentinel, not $mode" >&2
    exit 2
    ;;
esac
