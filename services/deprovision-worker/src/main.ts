// Composition root of the deprovision worker: configuration, logger, clients, wiring, signals.
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { createLogger, runService } from '@fortellis-admin/contracts';
import { loadDeprovisionWorkerConfig } from './config.ts';

await runService({
  name: 'deprovision-worker',
  loadConfig: () => loadDeprovisionWorkerConfig(process.env),
  createLogger: (config) => createLogger('deprovision-worker', config.logLevel),
  stopTimeoutMs: (config) => config.shutdownTimeoutMs,
  start: async (config, logger) => {
    const mongo = new MongoClient(config.mongo.url, { serverSelectionTimeoutMS: 5000 });
    await mongo.connect();
    await mongo.db(config.mongo.database).command({ ping: 1 });
    // BullMQ workers need a connection that retries forever and never fails a blocking command.
    const redis = new Redis(config.redis.url, { maxRetriesPerRequest: null, lazyConnect: true });
    redis.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
    await redis.connect();
    if (config.backend.kind === 'none') {
      logger.info('backend deprovisioner is "none": no backend accounts will be cleaned up');
    }
    if (config.integrationStatus === undefined) {
      logger.info('INTEGRATION_STATUS_BASE_URL is not set: deactivations will not be reported');
    }
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
