// Composition root of the deprovision worker: configuration, logger, clients, wiring, signals.
import {
  closeWorker,
  connectWorkerClients,
  createLogger,
  runService,
} from '@fortellis-admin/contracts';
import { loadDeprovisionWorkerConfig } from './config.ts';
import { buildWorker, createDeprovisionDeps } from './worker.ts';

await runService({
  name: 'deprovision-worker',
  loadConfig: () => loadDeprovisionWorkerConfig(process.env),
  createLogger: (config) => createLogger('deprovision-worker', config.logLevel),
  stopTimeoutMs: (config) => config.shutdownTimeoutMs,
  start: async (config, logger) => {
    const clients = await connectWorkerClients(
      { mongoUrl: config.mongo.url, redisUrl: config.redis.url },
      logger,
    );
    const deps = createDeprovisionDeps(config, {
      redis: clients.redis,
      db: clients.mongo.db(config.mongo.database),
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
        await clients.close();
      },
    };
  },
});
