// Builds the deprovision worker: the BullMQ worker on the deprovision queue with its processor,
// backoff and concurrency. No process handling.
import type { ConnectionOptions, Queue, Worker } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import type { Db } from 'mongodb';
import { QUEUE_NAMES } from '@fortellis-admin/contracts';
import {
  attemptLeaseMs,
  createQueueWorker,
  queueReconcilerJobs,
  RedisCallOutcomeLedger,
  type Logger,
  type OutsideCallRecorder,
  type RateLimitRecorder,
  type GiveUpRecorder,
} from '@fortellis-admin/service-kit';
import { ConnectionRepository } from '@fortellis-admin/connection-store';
import type { DeprovisionWorkerConfig } from './config.ts';
import {
  HttpAccountDeprovisioner,
  NoAccountDeprovisioner,
} from './data-access/account-deprovisioner.ts';
import { IntegrationStatusClient } from './data-access/integration-status-client.ts';
import {
  createDeprovisionProcessor,
  type DeprovisionProcessorDeps,
  type DeprovisionJobResult,
} from './entry-points/deprovision-processor.ts';

/** The use cases' ports, as the composition root has them: the whole repository. */
export interface DeprovisionWorkerDeps extends DeprovisionProcessorDeps {
  repo: ConnectionRepository;
  config: DeprovisionWorkerConfig;
  /** A connection with `maxRetriesPerRequest: null`, as BullMQ workers require. */
  connection: ConnectionOptions;
  /** Counts each pause of the queue after a 429, when metrics are collected. */
  recordRateLimit?: RateLimitRecorder;
}

export function buildWorker(deps: DeprovisionWorkerDeps): Worker<unknown, DeprovisionJobResult> {
  const { config } = deps;
  return createQueueWorker({
    queue: QUEUE_NAMES.deprovision,
    processor: createDeprovisionProcessor(deps),
    connection: deps.connection,
    prefix: config.redis.queuePrefix,
    concurrency: config.worker.concurrency,
    lockMs: config.worker.lockMs,
    keepFailed: config.worker.keepFailed,
    backoff: config.http.backoff,
    logger: deps.logger,
    ...(deps.recordRateLimit === undefined ? {} : { recordRateLimit: deps.recordRateLimit }),
  });
}

/**
 * Wires the worker's dependencies from its configuration and clients: the repository, the
 * deprovisioner adapter, the status reporting. Says in the log what it will not do.
 */
export function createDeprovisionDeps(
  config: DeprovisionWorkerConfig,
  clients: {
    redis: Redis | Cluster;
    /** The service's own Redis connection (locks, ledger); BullMQ's `redis` when not given. */
    appRedis?: Redis | Cluster;
    /** The connection store as `ConnectionRepository.open` made it; locked writes when not given. */
    repo?: ConnectionRepository;
    db: Db;
    logger: Logger;
    /** The worker's own queue, where the reconciler looks and publishes. */
    deprovisionQueue: Queue;
    clock?: { now(): Date };
    recordCall?: OutsideCallRecorder;
    recordRateLimit?: RateLimitRecorder;
    recordGiveUp?: GiveUpRecorder;
  },
): DeprovisionWorkerDeps {
  const { logger } = clients;
  const repo =
    clients.repo ??
    ConnectionRepository.locked(
      clients.db,
      clients.appRedis ?? clients.redis,
      config.redis.queuePrefix,
      config.redis.replicas ?? 0,
    );
  const backend = config.backend;
  if (backend.kind === 'none')
    logger.info('backend deprovisioner is "none": no backend accounts will be cleaned up');
  const status = config.integrationStatus;
  if (status === undefined)
    logger.info('INTEGRATION_STATUS_BASE_URL is not set: deactivations will not be reported');
  return {
    config,
    connection: clients.redis,
    repo,
    deprovisioner:
      backend.kind === 'http'
        ? new HttpAccountDeprovisioner({
            url: backend.url,
            secret: backend.secret,
            header: backend.header,
            timeoutMs: config.http.timeoutMs,
          })
        : new NoAccountDeprovisioner(),
    status:
      status === undefined
        ? undefined
        : {
            client: new IntegrationStatusClient({
              baseUrl: status.baseUrl,
              clientId: status.clientId,
              clientSecret: status.clientSecret,
              tenantId: status.tenantId,
              timeoutMs: config.http.timeoutMs,
            }),
            applicationCode: status.applicationCode,
            module: status.module,
            vendorSystem: status.vendorSystem,
            reportActivations: status.reportActivations,
          },
    logger,
    clock: clients.clock ?? { now: () => new Date() },
    ledger: new RedisCallOutcomeLedger(clients.appRedis ?? clients.redis, {
      prefix: config.redis.queuePrefix,
      replicaWait: { replicas: config.redis.replicas ?? 0 },
    }),
    settings: {
      retryHorizonMs: config.http.retryHorizonMs,
      // The token clients share the HTTP timeout.
      stepLeaseMs: attemptLeaseMs({
        callMs: config.http.timeoutMs,
        tokenMs: config.http.timeoutMs,
      }),
      reconcile: { stalledAfterMs: config.reconcile.stalledAfterMs, batchSize: 100 },
    },
    reconcilerJobs: queueReconcilerJobs(clients.deprovisionQueue),
    ...(clients.recordCall === undefined ? {} : { recordCall: clients.recordCall }),
    ...(clients.recordGiveUp === undefined ? {} : { recordGiveUp: clients.recordGiveUp }),
    ...(clients.recordRateLimit === undefined ? {} : { recordRateLimit: clients.recordRateLimit }),
  };
}
