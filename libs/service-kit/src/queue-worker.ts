// Creates a BullMQ worker the way both workers run theirs: the retry backoff of this system,
// takeover of a dead worker's jobs after the lock lapses, and failures logged without payloads.
import {
  Queue,
  RateLimitError,
  UnrecoverableError,
  Worker,
  type ConnectionOptions,
  type Processor,
} from 'bullmq';
import { AppError } from '@fortellis-admin/contracts';
import type { Logger } from 'pino';
import type { QueueName } from '@fortellis-admin/contracts';
import type { RateLimitRecorder } from './metrics.ts';
export { jobContextOf, type JobContext } from './job-context.ts';
import {
  clampRetryAfter,
  createBackoffStrategy,
  RateLimitedError,
  type BackoffSettings,
} from './retry-policy.ts';

export interface QueueWorkerOptions<R> {
  queue: QueueName;
  processor: Processor<unknown, R>;
  /**
   * A connection with `maxRetriesPerRequest: null`, as BullMQ workers require: the `worker`
   * connection of createRedisConnection (which also reconnects on READONLY and UNBLOCKED).
   */
  connection: ConnectionOptions;
  prefix: string;
  concurrency: number;
  /** Lock lifetime: a job whose worker died is picked up again after this. */
  lockMs: number;
  /** How long, and how many, jobs that failed for good are kept. */
  keepFailed: { days: number; count: number };
  backoff: BackoffSettings;
  /** At most this many jobs start per second. */
  ratePerSecond?: number;
  logger: Logger;
  /** Counts each pause of the queue after a 429, when metrics are collected. */
  recordRateLimit?: RateLimitRecorder;
}

/**
 * Ends a job for good when its processor throws a permanent {@link AppError} (bad data, an
 * unknown connection, a refusal that retrying cannot change); any other error is retried with the
 * queue's backoff. Use cases throw AppErrors and never import BullMQ.
 */
export function endPermanentFailures<R>(processor: Processor<unknown, R>): Processor<unknown, R> {
  return async (job, token, signal) => {
    try {
      return await processor(job, token, signal);
    } catch (error) {
      if (error instanceof AppError && error.permanent) throw new UnrecoverableError(error.message);
      throw error;
    }
  };
}

/**
 * A processor whose RateLimitedError (the party answered 429) pauses the whole queue, for every
 * worker, for the Retry-After clamped to the backoff's range (its base without one), and puts the
 * job back to wait without counting an attempt: a rate-limited partner is not hammered by each
 * worker retrying on its own, and cannot stop the queue (the reconciler's runs, the other
 * partners' work) for longer than the backoff's longest delay.
 */
export function pauseQueueOnRateLimit<R>(
  processor: Processor<unknown, R>,
  queue: Pick<Queue, 'rateLimit' | 'name'>,
  backoff: BackoffSettings,
  logger: Logger,
  record?: RateLimitRecorder,
): Processor<unknown, R> {
  return async (job, token, signal) => {
    try {
      return await processor(job, token, signal);
    } catch (error) {
      if (!(error instanceof RateLimitedError)) throw error;
      const ms = clampRetryAfter(error.retryAfterMs ?? backoff.baseMs, backoff);
      await queue.rateLimit(ms);
      record?.(queue.name, ms);
      logger.warn(
        {
          jobId: job.id,
          job: job.name,
          pauseMs: ms,
          ...(error.retryAfterMs === undefined ? {} : { retryAfterMs: error.retryAfterMs }),
          reason: error.message,
        },
        'rate limited: queue paused',
      );
      throw new RateLimitError();
    }
  };
}

/** What BullMQ's 'error' carries while Redis is away or changing primary. */
const REDIS_AWAY =
  /ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|Connection is closed|sentinels are unreachable|READONLY|UNBLOCKED|CLUSTERDOWN|TRYAGAIN|MOVED/;

/** How soon a worker fetches again after a connection error. */
export const RUN_RETRY_DELAY_MS = 1000;

export function createQueueWorker<R>(options: QueueWorkerOptions<R>): Worker<unknown, R> {
  // The queue's own handle, for pausing it after a 429.
  const queue = new Queue(options.queue, {
    connection: options.connection,
    prefix: options.prefix,
  });
  queue.on('error', () => undefined);
  const processor = pauseQueueOnRateLimit(
    endPermanentFailures(options.processor),
    queue,
    options.backoff,
    options.logger,
    options.recordRateLimit,
  );
  const worker = new Worker<unknown, R>(options.queue, processor, {
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
    removeOnFail: { age: options.keepFailed.days * 24 * 3600, count: options.keepFailed.count },
    // After a connection error (a failover, a restart) BullMQ waits this long before it fetches
    // again or retries a job's completion: its default, 15 s, would idle every worker that long
    // after Redis is back.
    runRetryDelay: RUN_RETRY_DELAY_MS,
  });
  worker.on('closed', () => void queue.close().catch(() => undefined));
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
  worker.on('error', (error) => {
    // Redis away (a failover, a restart) is a warning, as on every other connection: the worker
    // reconnects and goes on by itself. Anything else is an error.
    if (REDIS_AWAY.test(error.message))
      options.logger.warn({ err: { message: error.message } }, 'worker: redis unavailable');
    else options.logger.error({ err: { message: error.message } }, 'worker error');
  });
  superviseRunLoop(worker, options.logger);
  return worker;
}

/** How often a worker's run loop is checked. */
const RUN_LOOP_CHECK_MS = 1000;

/**
 * Restarts BullMQ's run loop when it has ended on its own. The loop ends when recording a job's end
 * fails with anything but a connection error: after a failover that lost the job's lock (measured
 * on a Cluster: "Missing lock for job ... moveToFinished"), the worker then takes no job at all
 * until the process restarts, saying nothing more.
 */
function superviseRunLoop(worker: Worker, logger: Logger): void {
  const timer = setInterval(() => {
    if (worker.closing !== undefined || worker.isRunning() || worker.isPaused()) return;
    logger.warn({ queue: worker.name }, 'worker: its run loop ended; restarting it');
    worker
      .run()
      .catch((error: unknown) =>
        logger.error({ err: { message: (error as Error).message } }, 'worker error'),
      );
  }, RUN_LOOP_CHECK_MS);
  timer.unref();
  worker.on('closing', () => clearInterval(timer));
  worker.on('closed', () => clearInterval(timer));
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
