// Composition root of the ingress: configuration, logger, clients, wiring, signals.
import type { Redis } from 'ioredis';
import type { Registry } from 'prom-client';
import { MongoClient } from 'mongodb';
import { type Logger } from '@fortellis-admin/service-kit';
import { createLogger, runService } from '@fortellis-admin/service-kit';
import { ConnectionLocks, ConnectionRepository } from '@fortellis-admin/connection-store';
import { buildApp } from './app.ts';
import { loadIngressConfig, type IngressConfig } from './config.ts';
import { createProducerConnection, wireIngress } from './wiring.ts';
import { buildOpsApp } from './ops-app.ts';
import type { JobPublisher } from './data-access/job-publisher.ts';

/** The operations listener: its own port, its own MongoDB client, operator tokens required. */
async function startOps(
  ops: NonNullable<IngressConfig['ops']>,
  queuePrefix: string,
  redis: Redis,
  publisher: JobPublisher,
  registry: Registry,
  logger: Logger,
): Promise<{ stop(): Promise<void> }> {
  const mongo = new MongoClient(ops.mongo.url, { serverSelectionTimeoutMS: 5000 });
  await mongo.connect();
  const repo = new ConnectionRepository(
    mongo.db(ops.mongo.database),
    new ConnectionLocks(redis, { prefix: queuePrefix }),
  );
  const app = await buildOpsApp({
    logger,
    tokens: ops.tokens,
    repo,
    publisher,
    queues: publisher.queues,
    clock: { now: () => new Date() },
    registry,
  });
  await app.listen({ host: ops.host, port: ops.port });
  return {
    stop: async () => {
      await app.close();
      await mongo.close();
    },
  };
}

await runService({
  name: 'ingress',
  loadConfig: () => loadIngressConfig(process.env),
  createLogger: (config) => createLogger('ingress', config.logLevel),
  stopTimeoutMs: (config) => config.shutdownTimeoutMs,
  start: async (config, logger) => {
    const redis = createProducerConnection(config.redis.url, logger);
    await redis
      .connect()
      .catch((error: unknown) =>
        logger.error({ err: error }, 'redis not reachable at start; retrying'),
      );
    const { deps, keys, publisher, metrics } = wireIngress(config, { redis, logger });
    // Without keys the ingress still starts (and answers 503) and keeps fetching them.
    await keys.start();
    const { app } = await buildApp(deps);
    await app.listen({ host: config.http.host, port: config.http.port });
    const ops =
      config.ops === undefined
        ? undefined
        : await startOps(
            config.ops,
            config.redis.queuePrefix,
            redis,
            publisher,
            metrics.registry,
            logger,
          );
    if (ops === undefined)
      logger.info('OPS_API_TOKENS is not set: the operations listener is not started');
    return {
      stop: async () => {
        await app.close();
        await ops?.stop();
        keys.stop();
        await publisher.close();
        redis.disconnect();
      },
    };
  },
});
