#!/bin/bash
# Entry point of docker compose's mongo: makes the replica set's key file once (random, in the
# mongo-config volume, readable by mongod alone), then hands over to the image's own entry point,
# which creates the users on the first start and runs mongod as the mongodb user.
set -euo pipefail
keyfile=/data/configdb/keyfile
if [ ! -s "$keyfile" ]; then
  head -c 756 /dev/urandom | base64 -w 0 > "$keyfile"
fi
chown mongodb:mongodb "$keyfile"
chmod 400 "$keyfile"
exec docker-entrypoint.sh "$@"
