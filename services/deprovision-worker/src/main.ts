// Composition root of the deprovision worker: configuration, logger, clients, wiring, signals.
import { QUEUE_NAMES } from '@fortellis-admin/contracts';
import {
  closeWorker,
  connectWorkerClients,
  createLogger,
  createMetricsRegistry,
  outsideCallCounter,
  runService,
  startWorkerMonitoring,
} from '@fortellis-admin/service-kit';
import { loadDeprovisionWorkerConfig } from './config.ts';
import { buildWorker, createDeprovisionDeps } from './worker.ts';

await runService({
  name: 'deprovision-worker',
  loadConfig: () => loadDeprovisionWorkerConfig(process.env),
  createLogger: (config) => createLogger('deprovision-worker', config.logLevel),
  stopTimeoutMs: (config) => config.shutdownTimeoutMs,
  start: async (config, logger) => {
    const registry = createMetricsRegistry('deprovision-worker');
    const clients = await connectWorkerClients(
      { mongoUrl: config.mongo.url, redisUrl: config.redis.url },
      logger,
    );
    const deps = createDeprovisionDeps(config, {
      redis: clients.redis,
      db: clients.mongo.db(config.mongo.database),
      logger,
      recordCall: outsideCallCounter(registry),
    });
    await deps.repo.ensureIndexes();
    const worker = buildWorker(deps);
    const monitoring = await startWorkerMonitoring({
      clients,
      registry,
      worker,
      queueName: QUEUE_NAMES.deprovision,
      prefix: config.redis.queuePrefix,
      ...config.monitoring,
      logger,
    });
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
        await monitoring.close();
        await clients.close();
      },
    };
  },
});
