# A stand-in for the public `redis:7` image, used only by test/deploy/compose.test.ts where Docker
# Hub cannot be reached: Debian's redis-server (7.0 on bookworm) on the same Debian base as the
# services' images. It keeps what docker-compose.yml relies on: `sh`, `redis-server`, `redis-cli`
# (the healthcheck), a `redis` user, /data as the working directory and volume, and a
# `docker-entrypoint.sh` that, like the official one, drops from root to `redis` for redis-server.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
RUN apt-get update \
  && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends redis-server redis-tools \
  && rm -rf /var/lib/apt/lists/* /var/cache/apt/*.bin \
  && mkdir -p /data && chown redis:redis /data
COPY redis-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
WORKDIR /data
VOLUME /data
EXPOSE 6379
ENTRYPOINT ["docker-entrypoint.sh"]
CMD ["redis-server"]
