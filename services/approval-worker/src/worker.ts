// Builds the approval worker: the BullMQ worker on the approval queue with its processor,
// backoff, rate limit and concurrency. No process handling.
import { Worker, type ConnectionOptions } from 'bullmq';
import { createBackoffStrategy, QUEUE_NAMES } from '@fortellis-admin/contracts';
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
