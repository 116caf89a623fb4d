// Starts a queue worker's process the one way both workers start: metrics, the connections, the
// queues it publishes to, the connection store (indexes ensured), the deps its wiring makes, the
// worker, the reconciler's schedule and the monitoring listener; and stops them in order.
import { Queue, type Worker } from 'bullmq';
import type { Db } from 'mongodb';
import type { Logger } from 'pino';
import { ConnectionRepository } from '@fortellis-admin/connection-store';
import type { QueueName } from '@fortellis-admin/contracts';
import {
  createMetricsRegistry,
  giveUpCounter,
  outsideCallCounter,
  rateLimitCounter,
  type GiveUpRecorder,
  type OutsideCallRecorder,
  type RateLimitRecorder,
} from './metrics.ts';
import { keepReconciliationScheduled } from './reconciler.ts';
import type { RedisSettings } from './redis-connection.ts';
import {
  connectWorkerClients,
  startWorkerMonitoring,
  type WorkerClients,
} from './worker-clients.ts';
import { closeWorker } from './worker-shutdown.ts';

/** The part of a worker's configuration its start-up reads. */
export interface QueueWorkerServiceConfig {
  mongo: { url: string; database: string };
  redis: RedisSettings;
  reconcile: { everyMs: number };
  monitoring: { host: string; port: number };
  shutdownTimeoutMs: number;
}

/** What a worker's wiring is handed: the open connections, its queues, the store, the counters. */
export interface QueueWorkerParts {
  clients: WorkerClients;
  db: Db;
  /** The connection store, on the service's own Redis connection for its locks. */
  repo: ConnectionRepository;
  /** The worker's own queue (the reconciler looks and publishes there) and those it publishes to. */
  queues: ReadonlyMap<QueueName, Queue>;
  recordCall: OutsideCallRecorder;
  recordRateLimit: RateLimitRecorder;
  recordGiveUp: GiveUpRecorder;
}

export interface QueueWorkerServiceOptions<D> {
  /** The service's name, as its metrics carry it. */
  service: string;
  /** The queue the worker takes its jobs from. */
  queue: QueueName;
  /** The other queues it publishes to. */
  publishesTo?: readonly QueueName[];
  config: QueueWorkerServiceConfig;
  logger: Logger;
  /** Makes the worker's deps (its wiring.ts). */
  wire(parts: QueueWorkerParts): D;
  /** Builds the worker from them (its worker.ts). */
  build(deps: D): Worker;
}

/**
 * Starts the worker and everything it runs with; `stop` ends the reconciler's schedule, lets the
 * jobs in hand finish (within the shutdown bound), then closes the listener, queues and
 * connections.
 */
export async function startQueueWorkerService<D>(
  options: QueueWorkerServiceOptions<D>,
): Promise<{ stop(): Promise<void> }> {
  const { config, logger } = options;
  const prefix = config.redis.queuePrefix;
  const registry = createMetricsRegistry(options.service);
  const clients = await connectWorkerClients(
    { mongoUrl: config.mongo.url, redis: config.redis },
    logger,
    registry,
  );
  const queues = new Map<QueueName, Queue>();
  for (const name of [...(options.publishesTo ?? []), options.queue])
    queues.set(name, new Queue(name, { connection: clients.redis, prefix }));
  const db = clients.mongo.db(config.mongo.database);
  const repo = await ConnectionRepository.open(db, clients.appRedis, {
    prefix,
    logger,
    replicas: config.redis.replicas ?? 0,
  });
  const deps = options.wire({
    clients,
    db,
    repo,
    queues,
    recordCall: outsideCallCounter(registry),
    recordRateLimit: rateLimitCounter(registry),
    recordGiveUp: giveUpCounter(registry),
  });
  await repo.ensureIndexes();
  const worker = options.build(deps);
  const reconciliation = await keepReconciliationScheduled(
    queueOf(queues, options.queue),
    config.reconcile.everyMs,
    logger,
  );
  const monitoring = await startWorkerMonitoring({
    clients,
    registry,
    worker,
    queueName: options.queue,
    prefix,
    ...config.monitoring,
    logger,
  });
  return {
    stop: async () => {
      reconciliation.stop();
      await closeWorker(worker, config.shutdownTimeoutMs, logger);
      await monitoring.close();
      for (const queue of queues.values()) await queue.close();
      await clients.close();
    },
  };
}

/** The queue of that name among the worker's queues. */
export function queueOf(queues: ReadonlyMap<QueueName, Queue>, name: QueueName): Queue {
  const queue = queues.get(name);
  if (queue === undefined) throw new Error(`the worker has no ${name} queue`);
  return queue;
}
