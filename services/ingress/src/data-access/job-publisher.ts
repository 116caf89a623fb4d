// Publishes jobs to the BullMQ queues and resolves only once Redis has stored them; fails fast
// (within a bounded time) when Redis is unreachable instead of queueing commands in memory.
import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  AppError,
  ERROR_CODES,
  JOB_OPTIONS,
  QUEUE_NAMES,
  QUEUE_OF_JOB,
  type JobName,
  type JobPayloads,
  type QueueName,
} from '@fortellis-admin/contracts';

export interface PublishResult {
  jobId: string;
  queue: QueueName;
}

export interface JobPublisherOptions {
  /** A connection with `enableOfflineQueue: false`, so commands fail at once while Redis is away. */
  connection: Redis;
  prefix: string;
  /** Upper bound on one publish. Default 1500 ms. */
  timeoutMs?: number;
  /** Told how long each stored publish took, in seconds. */
  onPublished?: (seconds: number) => void;
}

interface PendingPublish {
  name: JobName;
  data: JobPayloads[JobName];
  jobId: string;
  resolve: (result: PublishResult) => void;
  reject: (error: unknown) => void;
  startedAt: number;
}

export class JobPublisher {
  readonly #queues: Map<QueueName, Queue>;
  readonly #timeoutMs: number;
  readonly #onPublished: ((seconds: number) => void) | undefined;
  readonly #pending = new Map<QueueName, PendingPublish[]>();

  constructor(options: JobPublisherOptions) {
    this.#timeoutMs = options.timeoutMs ?? 1500;
    this.#onPublished = options.onPublished;
    this.#queues = new Map(
      Object.values(QUEUE_NAMES).map((name) => [
        name,
        new Queue(name, {
          connection: options.connection,
          prefix: options.prefix,
          skipVersionCheck: true,
        }),
      ]),
    );
  }

  /**
   * Adds the job under its derived id. A job whose id is already in the queue is not added again;
   * the call still succeeds, because the fact it carries is safely stored.
   *
   * Publishes that arrive in the same turn of the event loop are sent to Redis together (one
   * `addBulk`, one round trip, one MULTI/EXEC): under load this multiplies throughput, and each
   * caller still resolves only once Redis has stored its job, or rejects if the batch failed.
   */
  publish<N extends JobName>(name: N, data: JobPayloads[N], jobId: string): Promise<PublishResult> {
    const queueName = QUEUE_OF_JOB[name];
    return new Promise<PublishResult>((resolve, reject) => {
      let batch = this.#pending.get(queueName);
      if (batch === undefined) {
        batch = [];
        this.#pending.set(queueName, batch);
        setImmediate(() => void this.#flush(queueName));
      }
      batch.push({ name, data, jobId, resolve, reject, startedAt: performance.now() });
    });
  }

  async #flush(queueName: QueueName): Promise<void> {
    const batch = this.#pending.get(queueName) ?? [];
    this.#pending.delete(queueName);
    const queue = this.#queues.get(queueName);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`publish took longer than ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      );
    });
    try {
      if (queue === undefined) throw new Error(`no queue ${queueName}`);
      const jobs = batch.map((item) => ({
        name: item.name,
        data: item.data,
        opts: { ...JOB_OPTIONS, jobId: item.jobId },
      }));
      await Promise.race([queue.addBulk(jobs), timeout]);
      const now = performance.now();
      for (const item of batch) {
        this.#onPublished?.((now - item.startedAt) / 1000);
        item.resolve({ jobId: item.jobId, queue: queueName });
      }
    } catch (error) {
      const failure = new AppError(
        ERROR_CODES.queueUnavailable,
        'the request could not be stored, try again later',
        {
          httpStatus: 503,
          cause: error,
        },
      );
      for (const item of batch) item.reject(failure);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.#queues.values()].map((queue) => queue.close()));
  }
}
