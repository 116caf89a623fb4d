// Composition root of the deprovision worker: configuration, logger, clients, wiring, signals.
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { closeWorker, createLogger, runService } from '@fortellis-admin/contracts';
import { loadDeprovisionWorkerConfig } from './config.ts';
import { buildWorker, createDeprovisionDeps } from './worker.ts';

await runService({
  name: 'deprovision-worker',
  loadConfig: () => loadDeprovisionWorkerConfig(process.env),
  createLogger: (config) => createLogger('deprovision-worker', config.logLevel),
  stopTimeoutMs: (config) => config.shutdownTimeoutMs,
  start: async (config, logger) => {
    const mongo = new MongoClient(config.mongo.url, { serverSelectionTimeoutMS: 5000 });
    await mongo.connect();
    // BullMQ workers need a connection that retries forever and never fails a blocking command.
    const redis = new Redis(config.redis.url, { maxRetriesPerRequest: null, lazyConnect: true });
    redis.on('error', (error) =>
      logger.warn({ err: { message: error.message } }, 'redis connection error'),
    );
    await redis.connect();
    const deps = createDeprovisionDeps(config, {
      redis,
      db: mongo.db(config.mongo.database),
      logger,
    });
    await deps.repo.ensureIndexes();
    const worker = buildWorker(deps);
    logger.info(
      {
        database: config.mongo.database,
        queuePrefix: config.redis.queuePrefix,
        concurrency: config.worker.concurrency,
      },
      'connected',
    );
    return {
      stop: async () => {
        await closeWorker(worker, config.shutdownTimeoutMs, logger);
        redis.disconnect();
        await mongo.close();
      },
    };
  },
});
