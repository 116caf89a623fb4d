#!/bin/sh
# The official redis image's entry point, in short: started as root for redis-server, give /data
# to the redis user and re-run as that user (setpriv from util-linux in place of gosu).
set -e
if [ "$1" = redis-server ] && [ "$(id -u)" = 0 ]; then
  find . \! -user redis -exec chown redis '{}' +
  exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
fi
umask 0077
exec "$@"
