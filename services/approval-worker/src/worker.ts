// Builds the approval worker: the BullMQ worker on the approval queue with its processor,
// backoff, rate limit and concurrency. No process handling.
import type { ConnectionOptions, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import type { Db } from 'mongodb';
import { JOB_NAMES, JOB_OPTIONS, QUEUE_NAMES } from '@fortellis-admin/contracts';
import { type Logger } from '@fortellis-admin/service-kit';
import {
  ClientCredentialsTokenClient,
  createQueueWorker,
  type OutsideCallRecorder,
} from '@fortellis-admin/service-kit';
import { ConnectionLocks, ConnectionRepository } from '@fortellis-admin/connection-store';
import { CallbackClient } from './data-access/callback-client.ts';
import type { ApprovalPolicy } from './domain/approval-rules.ts';
import type { ApprovalWorkerConfig } from './config.ts';
import {
  createApprovalProcessor,
  type ApprovalProcessorDeps,
  type ProcessResult,
} from './entry-points/approval-processor.ts';

/** The use cases' ports, as the composition root has them: the whole repository and token client. */
export interface ApprovalWorkerDeps extends ApprovalProcessorDeps {
  repo: ConnectionRepository;
  tokens: ClientCredentialsTokenClient;
  config: ApprovalWorkerConfig;
  /** A connection with `maxRetriesPerRequest: null`, as BullMQ workers require. */
  connection: ConnectionOptions;
}

export function buildWorker(deps: ApprovalWorkerDeps): Worker<unknown, ProcessResult> {
  const { config } = deps;
  return createQueueWorker({
    queue: QUEUE_NAMES.approval,
    processor: createApprovalProcessor(deps),
    connection: deps.connection,
    prefix: config.redis.queuePrefix,
    concurrency: config.worker.concurrency,
    lockMs: config.worker.lockMs,
    backoff: config.callback.backoff,
    ratePerSecond: config.callback.ratePerSecond,
    logger: deps.logger,
  });
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
    recordCall?: OutsideCallRecorder;
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
    ...(clients.recordCall === undefined ? {} : { recordCall: clients.recordCall }),
  };
}
