// Composition root of the approval worker: configuration, logger, clients, wiring, signals.
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { createLogger, runService } from '@fortellis-admin/contracts';
import { loadApprovalWorkerConfig } from './config.ts';

await runService({
  name: 'approval-worker',
  loadConfig: () => loadApprovalWorkerConfig(process.env),
  createLogger: (config) => createLogger('approval-worker', config.logLevel),
  stopTimeoutMs: (config) => config.shutdownTimeoutMs,
  start: async (config, logger) => {
    const mongo = new MongoClient(config.mongo.url, { serverSelectionTimeoutMS: 5000 });
    await mongo.connect();
    await mongo.db(config.mongo.database).command({ ping: 1 });
    // BullMQ workers need a connection that retries forever and never fails a blocking command.
    const redis = new Redis(config.redis.url, { maxRetriesPerRequest: null, lazyConnect: true });
    redis.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
    await redis.connect();
    logger.info(
      { database: config.mongo.database, queuePrefix: config.redis.queuePrefix },
      'connected',
    );
    return {
      stop: async () => {
        redis.disconnect();
        await mongo.close();
      },
    };
  },
});
