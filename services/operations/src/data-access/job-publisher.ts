// The system's BullMQ queues as the operations service uses them: publishing the operators' jobs
// (ReviewDecided, retries) under their derived ids, and every queue for Bull Board.
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
   * the call still succeeds, because the fact it carries is stored. Redis away: 503.
   */
  async publish<N extends JobName>(
    name: N,
    data: JobPayloads[N],
    jobId: string,
  ): Promise<{ jobId: string; queue: QueueName }> {
    const queueName = QUEUE_OF_JOB[name];
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
      await Promise.race([queue.add(name, data, { ...JOB_OPTIONS, jobId }), timeout]);
      return { jobId, queue: queueName };
    } catch (error) {
      throw new AppError(
        ERROR_CODES.queueUnavailable,
        'the request could not be stored, try again later',
        { httpStatus: 503, cause: error },
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /** Every queue of the system, for the operators' queue board. */
  get queues(): Queue[] {
    return [...this.#queues.values()];
  }

  async close(): Promise<void> {
    await Promise.all([...this.#queues.values()].map((queue) => queue.close()));
  }
}
