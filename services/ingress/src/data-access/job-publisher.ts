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
}

export class JobPublisher {
  readonly #queues: Map<QueueName, Queue>;
  readonly #timeoutMs: number;

  constructor(options: JobPublisherOptions) {
    this.#timeoutMs = options.timeoutMs ?? 1500;
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
   */
  async publish<N extends JobName>(
    name: N,
    data: JobPayloads[N],
    jobId: string,
  ): Promise<PublishResult> {
    const queueName = QUEUE_OF_JOB[name];
    const queue = this.#queues.get(queueName);
    if (queue === undefined) throw new Error(`no queue ${queueName}`);
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(
        () => reject(new Error(`publish took longer than ${this.#timeoutMs} ms`)),
        this.#timeoutMs,
      );
    });
    try {
      await Promise.race([queue.add(name, data, { ...JOB_OPTIONS, jobId }), timeout]);
      return { jobId, queue: queueName };
    } catch (error) {
      throw new AppError(
        ERROR_CODES.queueUnavailable,
        'the request could not be stored, try again later',
        {
          httpStatus: 503,
          cause: error,
        },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.#queues.values()].map((queue) => queue.close()));
  }
}
