// Builds the approval worker: the BullMQ worker on the approval queue with its processor,
// backoff, rate limit and concurrency. No process handling.
import { Worker, type ConnectionOptions, type Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Db } from 'mongodb';
import {
  ClientCredentialsTokenClient,
  ConnectionLocks,
  ConnectionRepository,
  createBackoffStrategy,
  JOB_NAMES,
  JOB_OPTIONS,
  QUEUE_NAMES,
  type Logger,
} from '@fortellis-admin/contracts';
import { CallbackClient } from './data-access/callback-client.ts';
import type { ApprovalPolicy } from './domain/approval-rules.ts';
import type { ApprovalWorkerConfig } from './config.ts';
import {
  createApprovalProcessor,
  type ApprovalProcessorDeps,
  type ProcessResult,
} from './entry-points/approval-processor.ts';

export interface ApprovalWorkerDeps extends ApprovalProcessorDeps {
  config: ApprovalWorkerConfig;
  /** A connection with `maxRetriesPerRequest: null`, as BullMQ workers require. */
  connection: ConnectionOptions;
  /** Start consuming at once (default) or wait for `worker.run()`. */
  autorun?: boolean;
}

export function buildWorker(deps: ApprovalWorkerDeps): Worker<unknown, ProcessResult> {
  const { config } = deps;
  const worker = new Worker<unknown, ProcessResult>(
    QUEUE_NAMES.approval,
    createApprovalProcessor(deps),
    {
      connection: deps.connection,
      prefix: config.redis.queuePrefix,
      concurrency: config.worker.concurrency,
      limiter: { max: config.callback.ratePerSecond, duration: 1000 },
      settings: { backoffStrategy: createBackoffStrategy(config.callback.backoff) },
      // A job whose worker died is picked up again; a few stalls are tolerated before it fails.
      maxStalledCount: 5,
      lockDuration: config.worker.lockMs,
      stalledInterval: config.worker.lockMs,
      autorun: deps.autorun ?? true,
    },
  );
  worker.on('failed', (job, error) => {
    deps.logger.warn(
      {
        jobId: job?.id,
        job: job?.name,
        attemptsMade: job?.attemptsMade,
        err: { message: error.message, name: error.name },
      },
      'job attempt failed',
    );
  });
  worker.on('error', (error) =>
    deps.logger.error({ err: { message: error.message } }, 'worker error'),
  );
  return worker;
}

/**
 * Wires the worker's dependencies from its configuration and clients: the repository, the token
 * and callback clients, the announcement of accepted connections to the deprovision queue.
 */
export function createApprovalDeps(
  config: ApprovalWorkerConfig,
  clients: {
    redis: Redis;
    db: Db;
    logger: Logger;
    policy: ApprovalPolicy;
    deprovisionQueue: Queue;
    clock?: { now(): Date };
  },
): ApprovalWorkerDeps {
  return {
    config,
    connection: clients.redis,
    repo: new ConnectionRepository(
      clients.db,
      new ConnectionLocks(clients.redis, { prefix: config.redis.queuePrefix }),
    ),
    policy: clients.policy,
    callbacks: new CallbackClient({
      baseUrl: config.fortellis.callbackBaseUrl,
      timeoutMs: config.callback.timeoutMs,
    }),
    tokens: new ClientCredentialsTokenClient({
      tokenUrl: config.fortellis.tokenUrl,
      clientId: config.fortellis.clientId,
      clientSecret: config.fortellis.clientSecret,
      scope: 'anonymous',
      timeoutMs: config.callback.timeoutMs,
    }),
    announceAccepted: async (job, jobId) => {
      await clients.deprovisionQueue.add(JOB_NAMES.connectionAccepted, job, {
        ...JOB_OPTIONS,
        jobId,
      });
    },
    logger: clients.logger,
    clock: clients.clock ?? { now: () => new Date() },
    settings: {
      retryHorizonMs: config.callback.retryHorizonMs,
      callbackTimeoutMs: config.callback.timeoutMs,
    },
  };
}
