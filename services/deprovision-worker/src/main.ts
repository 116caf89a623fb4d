// Composition root of the deprovision worker: configuration, logger, then the worker's process as
// every queue worker runs it (startQueueWorkerService: connections, the store, the deps of
// wiring.ts, the worker of worker.ts, reconciliation and monitoring, and how they stop).
import { QUEUE_NAMES } from '@fortellis-admin/contracts';
import {
  createLogger,
  queueOf,
  runService,
  startQueueWorkerService,
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
    const service = await startQueueWorkerService({
      service: 'deprovision-worker',
      queue: QUEUE_NAMES.deprovision,
      config,
      logger,
      wire: ({ clients, db, repo, queues, ...recorders }) =>
        wireDeprovisionWorker(config, {
          redis: clients.redis,
          appRedis: clients.appRedis,
          deprovisionQueue: queueOf(queues, QUEUE_NAMES.deprovision),
          db,
          repo,
          logger,
          ...recorders,
        }),
      build: buildWorker,
    });
    logger.info(
      {
        database: config.mongo.database,
        queuePrefix: config.redis.queuePrefix,
        concurrency: config.worker.concurrency,
      },
      'connected',
    );
    return service;
  },
});
