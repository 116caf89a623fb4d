// Builds the deprovision worker: the BullMQ worker on the deprovision queue running its declared
// jobs, with the steps' backoff and concurrency. No process handling.
import type { ConnectionOptions, Worker } from 'bullmq';
import { createDeclaredWorker, type RateLimitRecorder } from '@fortellis-admin/service-kit';
import type { ConnectionRepository } from '@fortellis-admin/connection-store';
import type { DeprovisionWorkerConfig } from './config.ts';
import {
  DEPROVISION_JOBS,
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

/** The deprovision queue's worker, running as soon as it is built; close it to stop. */
export function buildWorker(deps: DeprovisionWorkerDeps): Worker<unknown, DeprovisionJobResult> {
  const { config } = deps;
  return createDeclaredWorker(DEPROVISION_JOBS, deps, {
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
