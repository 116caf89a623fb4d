# A MongoDB-wire stand-in for the public `mongo:8` image, used only by
# test/deploy/compose.test.ts: FerretDB v1 (the static binary `npm run infra:install` builds, copied
# into the build context by the test) on SQLite, in the mongo-data volume, as a non-root user.
# Telemetry is off twice (flag and DO_NOT_TRACK): nothing may reach an outside host.
ARG BASE_IMAGE
FROM ${BASE_IMAGE}
COPY ferretdb /usr/local/bin/ferretdb
RUN useradd --system --uid 999 --home-dir /data/db --no-create-home ferretdb \
  && mkdir -p /data/db && chown ferretdb:ferretdb /data/db
ENV DO_NOT_TRACK=1 FERRETDB_TELEMETRY=disable
USER ferretdb
WORKDIR /data/db
VOLUME /data/db
EXPOSE 27017
ENTRYPOINT ["/usr/local/bin/ferretdb"]
CMD ["--handler=sqlite", "--sqlite-url=file:/data/db/", "--state-dir=/data/db", "--listen-addr=:27017", "--debug-addr=127.0.0.1:8088", "--telemetry=disable"]
