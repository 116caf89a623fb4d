// Creates a BullMQ worker the way both workers run theirs: the retry backoff of this system,
// takeover of a dead worker's jobs after the lock lapses, and failures logged without payloads.
import { UnrecoverableError, Worker, type ConnectionOptions, type Processor } from 'bullmq';
import type { Logger } from 'pino';
import type { QueueName } from '@fortellis-admin/contracts';
import { createBackoffStrategy, type BackoffSettings } from './retry-policy.ts';

export interface QueueWorkerOptions<R> {
  queue: QueueName;
  processor: Processor<unknown, R>;
  /** A connection with `maxRetriesPerRequest: null`, as BullMQ workers require. */
  connection: ConnectionOptions;
  prefix: string;
  concurrency: number;
  /** Lock lifetime: a job whose worker died is picked up again after this. */
  lockMs: number;
  backoff: BackoffSettings;
  /** At most this many jobs start per second. */
  ratePerSecond?: number;
  logger: Logger;
}

export function createQueueWorker<R>(options: QueueWorkerOptions<R>): Worker<unknown, R> {
  const worker = new Worker<unknown, R>(options.queue, options.processor, {
    connection: options.connection,
    prefix: options.prefix,
    concurrency: options.concurrency,
    ...(options.ratePerSecond === undefined
      ? {}
      : { limiter: { max: options.ratePerSecond, duration: 1000 } }),
    settings: { backoffStrategy: createBackoffStrategy(options.backoff) },
    // A few stalls (a worker killed mid-job) are tolerated before a job fails.
    maxStalledCount: 5,
    lockDuration: options.lockMs,
    stalledInterval: options.lockMs,
  });
  worker.on('failed', (job, error) => {
    options.logger.warn(
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
    options.logger.error({ err: { message: error.message } }, 'worker error'),
  );
  return worker;
}

/**
 * Validates a job's data with its contract; bad data stays bad, so the job fails for good
 * (UnrecoverableError) and stays visible to operators.
 */
export function parseJobData<T>(parse: (data: unknown) => T, data: unknown): T {
  try {
    return parse(data);
  } catch (error) {
    throw new UnrecoverableError((error as Error).message);
  }
}
