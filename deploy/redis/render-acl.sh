#!/bin/sh
# Renders the Redis ACL users of the Fortellis Admin API (users.acl beside this script) with real
# passwords: each `#<sha256>` placeholder of user NAME becomes the SHA-256 of $REDIS_<NAME>_PASSWORD
# (NAME upper-cased, `-` as `_`: REDIS_INGRESS_PASSWORD, REDIS_APPROVAL_WORKER_PASSWORD, ...).
#   sh deploy/redis/render-acl.sh deploy/redis/users.acl /run/redis-acl/users.acl
# docker compose runs it at every start of its redis (docker-compose.yml); on Kubernetes, run it
# where the passwords are and keep the result in a Secret mounted as Redis's --aclfile (or give a
# managed Redis the same rules). Nothing but the hashes is written; an unset password stops it.
#
# users.acl: one user per process, for the default QUEUE_PREFIX `fortellis-admin` (with another
# prefix, replace `fortellis-admin:` in every key pattern). Each service user may run the data
# commands BullMQ and the service need (@read, @write, transactions, scripts: BullMQ works through
# Lua scripts, whose commands Redis checks against the same rules) on its own keys only, and
# nothing @dangerous (FLUSHALL, KEYS, CONFIG SET, DEBUG, CLIENT LIST/KILL, ACL, ...), nor SCAN or
# RANDOMKEY, which would list keys whatever the patterns. INFO is allowed back (ioredis's ready
# check and BullMQ's version check read it), TIME and CONFIG GET for the processes that
# acknowledge jobs (the publish fence reads Redis's clock; the fsync check reads appendonly and
# appendfsync; with ACK_REPLICAS, WAIT, in @connection, counts the replicas that hold the mark
# written after the jobs), and CLIENT LIST for the operations service (Bull Board shows the
# queues' workers).
#
#   keys (fortellis-admin:…)    ingress  operations  approval-worker  deprovision-worker
#   approval:*     queue           x         x             x
#   deprovision:*  queue           x         x             x                 x
#   ack-fence:*    publish fence   x         x
#   ack-replicated replicas' mark  x         x
#   lock:*         locks                     x             x                 x
#   call-outcome:* call ledger                             x                 x
#
# So the ingress can publish, and cannot read or delete the call ledger, the locks or another
# deployment's keys. `admin` is for people (redis-cli); `healthcheck` can only PING; `default`
# (a client that does not authenticate) can do nothing. Passwords end up in URLs
# (redis://ingress:<password>@redis:6379): use URL-safe ones, e.g. `openssl rand -hex 24`.
set -eu
source_file=$1
target_file=$2
umask 077
: > "$target_file"
while IFS= read -r line || [ -n "$line" ]; do
  case "$line" in
    user\ *\ \#*)
      name=${line#user }
      name=${name%% *}
      variable="REDIS_$(printf %s "$name" | tr 'a-z-' 'A-Z_')_PASSWORD"
      password=$(printenv "$variable" || true)
      if [ -z "$password" ]; then
        echo "render-acl: $variable is not set (the password of Redis user $name)" >&2
        exit 1
      fi
      hash=$(printf %s "$password" | sha256sum | cut -d' ' -f1)
      line=$(printf '%s\n' "$line" | sed "s/ #[0-9a-f]\{64\}/ #$hash/")
      ;;
  esac
  printf '%s\n' "$line" >> "$target_file"
done < "$source_file"
