// Composition root of the deprovision worker: configuration, logger, connections, the deps
// (wiring.ts) and the worker (worker.ts), reconciliation and monitoring, and how they stop.
import { Queue } from 'bullmq';
import { QUEUE_NAMES } from '@fortellis-admin/contracts';
import { ConnectionRepository } from '@fortellis-admin/connection-store';
import {
  closeWorker,
  connectWorkerClients,
  createLogger,
  createMetricsRegistry,
  outsideCallCounter,
  rateLimitCounter,
  giveUpCounter,
  runService,
  keepReconciliationScheduled,
  startWorkerMonitoring,
} from '@fortellis-admin/service-kit';
import { loadDeprovisionWorkerConfig } from './config.ts';
import { wireDeprovisionWorker } from './wiring.ts';
import { buildWorker } from './worker.ts';

await runService({
  name: 'deprovision-worker',
  loadConfig: () => loadDeprovisionWorkerConfig(process.env),
  createLogger: (config) => createLogger('deprovision-worker', config.logLevel),
  stopTimeoutMs: (config) => config.shutdownTimeoutMs,
  start: async (config, logger) => {
    const registry = createMetricsRegistry('deprovision-worker');
    const clients = await connectWorkerClients(
      { mongoUrl: config.mongo.url, redis: config.redis },
      logger,
      registry,
    );
    const deprovisionQueue = new Queue(QUEUE_NAMES.deprovision, {
      connection: clients.redis,
      prefix: config.redis.queuePrefix,
    });
    const deps = wireDeprovisionWorker(config, {
      redis: clients.redis,
      appRedis: clients.appRedis,
      deprovisionQueue,
      db: clients.mongo.db(config.mongo.database),
      repo: await ConnectionRepository.open(
        clients.mongo.db(config.mongo.database),
        clients.appRedis,
        {
          prefix: config.redis.queuePrefix,
          logger,
          replicas: config.redis.replicas ?? 0,
        },
      ),
      logger,
      recordCall: outsideCallCounter(registry),
      recordRateLimit: rateLimitCounter(registry),
      recordGiveUp: giveUpCounter(registry),
    });
    await deps.repo.ensureIndexes();
    const worker = buildWorker(deps);
    const reconciliation = await keepReconciliationScheduled(
      deprovisionQueue,
      config.reconcile.everyMs,
      logger,
    );
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
        reconciliation.stop();
        await closeWorker(worker, config.shutdownTimeoutMs, logger);
        await monitoring.close();
        await deprovisionQueue.close();
        await clients.close();
      },
    };
  },
});
