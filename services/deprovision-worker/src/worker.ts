// Builds the deprovision worker: the BullMQ worker on the deprovision queue with its processor,
// backoff and concurrency. No process handling.
import { Worker, type ConnectionOptions } from 'bullmq';
import { createBackoffStrategy, QUEUE_NAMES } from '@fortellis-admin/contracts';
import type { DeprovisionWorkerConfig } from './config.ts';
import {
  createDeprovisionProcessor,
  type DeprovisionProcessorDeps,
  type DeprovisionResult,
} from './entry-points/deprovision-processor.ts';

export interface DeprovisionWorkerDeps extends DeprovisionProcessorDeps {
  config: DeprovisionWorkerConfig;
  /** A connection with `maxRetriesPerRequest: null`, as BullMQ workers require. */
  connection: ConnectionOptions;
}

export function buildWorker(deps: DeprovisionWorkerDeps): Worker<unknown, DeprovisionResult> {
  const { config } = deps;
  const worker = new Worker<unknown, DeprovisionResult>(
    QUEUE_NAMES.deprovision,
    createDeprovisionProcessor(deps),
    {
      connection: deps.connection,
      prefix: config.redis.queuePrefix,
      concurrency: config.worker.concurrency,
      settings: { backoffStrategy: createBackoffStrategy(config.http.backoff) },
      maxStalledCount: 5,
      lockDuration: config.worker.lockMs,
      stalledInterval: config.worker.lockMs,
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
