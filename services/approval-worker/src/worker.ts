// Builds the approval worker: the BullMQ worker on the approval queue running its declared jobs,
// with the callbacks' backoff, rate limit and concurrency. No process handling.
import type { ConnectionOptions, Worker } from 'bullmq';
import {
  createDeclaredWorker,
  type ClientCredentialsTokenClient,
  type RateLimitRecorder,
} from '@fortellis-admin/service-kit';
import type { ConnectionRepository } from '@fortellis-admin/connection-store';
import type { ApprovalWorkerConfig } from './config.ts';
import {
  APPROVAL_JOBS,
  type ApprovalProcessorDeps,
  type ApprovalJobResult,
} from './entry-points/approval-processor.ts';

/** The use cases' ports, as the composition root has them: the whole repository and token client. */
export interface ApprovalWorkerDeps extends ApprovalProcessorDeps {
  repo: ConnectionRepository;
  tokens: ClientCredentialsTokenClient;
  config: ApprovalWorkerConfig;
  /** A connection with `maxRetriesPerRequest: null`, as BullMQ workers require. */
  connection: ConnectionOptions;
  /** Counts each pause of the queue after a 429, when metrics are collected. */
  recordRateLimit?: RateLimitRecorder;
}

/** The approval queue's worker, running as soon as it is built; close it to stop. */
export function buildWorker(deps: ApprovalWorkerDeps): Worker<unknown, ApprovalJobResult> {
  const { config } = deps;
  return createDeclaredWorker(APPROVAL_JOBS, deps, {
    connection: deps.connection,
    prefix: config.redis.queuePrefix,
    concurrency: config.worker.concurrency,
    lockMs: config.worker.lockMs,
    keepFailed: config.worker.keepFailed,
    backoff: config.callback.backoff,
    ratePerSecond: config.callback.ratePerSecond,
    logger: deps.logger,
    ...(deps.recordRateLimit === undefined ? {} : { recordRateLimit: deps.recordRateLimit }),
  });
}
