// Composition root of the operations service: configuration, logger, Redis and MongoDB clients,
// wiring, signals.
import { MongoClient } from 'mongodb';
import { Redis } from 'ioredis';
import { createLogger, runService, type Logger } from '@fortellis-admin/service-kit';
import { ConnectionLocks, ConnectionRepository } from '@fortellis-admin/connection-store';
import { buildApp } from './app.ts';
import { loadOperationsConfig } from './config.ts';
import { JobPublisher } from './data-access/job-publisher.ts';
import { createOperationsMetrics } from './operations-metrics.ts';

/**
 * Fails fast: while Redis is away, commands error at once instead of waiting in memory, so an
 * operator gets 503 rather than a request that hangs.
 */
function createRedisConnection(url: string, logger: Logger): Redis {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
    retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
  });
  redis.on('error', (error) =>
    logger.warn({ err: { message: error.message } }, 'redis connection error'),
  );
  return redis;
}

await runService({
  name: 'operations',
  loadConfig: () => loadOperationsConfig(process.env),
  createLogger: (config) => createLogger('operations', config.logLevel),
  stopTimeoutMs: (config) => config.shutdownTimeoutMs,
  start: async (config, logger) => {
    const mongo = new MongoClient(config.mongo.url, { serverSelectionTimeoutMS: 5000 });
    await mongo.connect();
    const redis = createRedisConnection(config.redis.url, logger);
    // Without Redis the console still starts (and /ready says so) and keeps reconnecting.
    await redis
      .connect()
      .catch((error: unknown) =>
        logger.error({ err: error }, 'redis not reachable at start; retrying'),
      );
    const publisher = new JobPublisher({ connection: redis, prefix: config.redis.queuePrefix });
    const app = await buildApp({
      logger,
      tokens: config.tokens,
      repo: new ConnectionRepository(
        mongo.db(config.mongo.database),
        new ConnectionLocks(redis, { prefix: config.redis.queuePrefix }),
      ),
      publisher,
      queues: publisher.queues,
      clock: { now: () => new Date() },
      metrics: createOperationsMetrics(),
      readiness: {
        redis: async () => (await redis.ping()) === 'PONG',
        mongodb: async () => {
          await mongo.db('admin').command({ ping: 1 });
          return true;
        },
      },
    });
    await app.listen({ host: config.http.host, port: config.http.port });
    logger.info({ operators: config.tokens.length }, 'operator tokens loaded');
    return {
      stop: async () => {
        await app.close();
        await publisher.close();
        await mongo.close();
        redis.disconnect();
      },
    };
  },
});
