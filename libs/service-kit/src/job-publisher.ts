// Publishes jobs to the BullMQ queues so that an acknowledgement is always true: a call resolves
// only once Redis has stored its job (durably, when Redis runs with appendfsync always), rides out
// Redis outages shorter than the hold window, and a call that is refused can never take effect
// later, because every publish is fenced by a deadline that Redis itself checks.
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { Job, Queue } from 'bullmq';
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
import type { Logger } from './logger.ts';
import { Redis } from 'ioredis';
import { checkAckDurability, type AckDurability, type DurabilityState } from './ack-durability.ts';
import { RedisClock } from './redis-clock.ts';

export interface PublishResult {
  jobId: string;
  queue: QueueName;
}

export interface JobPublisherOptions {
  /** A connection with `enableOfflineQueue: false`, so nothing waits unsent in memory. */
  connection: Redis;
  prefix: string;
  /** How long a publish may wait for Redis (an outage, a failover, a stall). Default 10 s. */
  holdMs?: number;
  /** What Redis must guarantee before a job is acknowledged. Default `fsync`. */
  durability?: AckDurability;
  /** Told how long each stored publish took, in seconds. */
  onPublished?: (seconds: number) => void;
  logger?: Logger;
}

/**
 * Redis refuses a publish whose deadline (in Redis's own clock) has passed: it touches the key the
 * publish's transaction watches, so the transaction's EXEC does nothing. The ingress gives up this
 * long after that deadline, so whatever it refuses can no longer be stored: the margin covers the
 * error of the clock-offset estimate (at most half a 50 ms round trip).
 */
export const FENCE_MARGIN_MS = 500;

/**
 * How long, in hold windows, a call waits to learn the outcome of an attempt that may have reached
 * Redis (sent, then no answer): refusing it earlier could refuse a job that is stored.
 */
export const UNKNOWN_OUTCOME_FACTOR = 6;

/** The error of a command ioredis never wrote: it cannot have run. */
const NOT_SENT = 'enableOfflineQueue options is false';

const FENCE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now > tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', 60000)
  return 0
end
return 1`;

interface PendingPublish {
  name: JobName;
  data: JobPayloads[JobName];
  jobId: string;
  resolve: (result: PublishResult) => void;
  reject: (error: unknown) => void;
  /** performance.now() and the wall clock when the call came in. */
  startedAt: number;
  startedWallMs: number;
}

type Attempt =
  | { kind: 'stored'; failures: ReadonlyMap<number, Error> }
  | { kind: 'fenced' }
  | { kind: 'error'; error: unknown };

type FencedRedis = Redis & { ackFence(key: string, deadlineMs: number): Promise<number> };

export class JobPublisher {
  readonly #redis: FencedRedis;
  readonly #prefix: string;
  readonly #queues: Map<QueueName, Queue>;
  readonly #holdMs: number;
  readonly #durability: AckDurability;
  readonly #onPublished: ((seconds: number) => void) | undefined;
  readonly #logger: Logger | undefined;
  readonly #clock: RedisClock;
  readonly #pending = new Map<QueueName, PendingPublish[]>();
  #durabilityState: DurabilityState = 'unchecked';
  #durabilityCheck: Promise<void> | undefined;
  #closed = false;

  constructor(options: JobPublisherOptions) {
    this.#prefix = options.prefix;
    this.#holdMs = options.holdMs ?? 10_000;
    this.#durability = options.durability ?? 'fsync';
    this.#onPublished = options.onPublished;
    this.#logger = options.logger;
    const redis = options.connection as FencedRedis;
    if (typeof redis.ackFence !== 'function')
      redis.defineCommand('ackFence', { numberOfKeys: 1, lua: FENCE_SCRIPT });
    this.#redis = redis;
    this.#clock = new RedisClock(redis);
    // Every (re)connection may be to another server (a restart, a failover): check it again.
    redis.on('ready', () => {
      this.#durabilityState = 'unchecked';
      void this.#clock.sample();
    });
    this.#queues = new Map(
      Object.values(QUEUE_NAMES).map((name) => {
        const queue = new Queue(name, {
          connection: redis,
          prefix: options.prefix,
          skipVersionCheck: true,
        });
        // The connection's own listener logs its errors, once, as structured lines.
        queue.on('error', () => undefined);
        return [name, queue];
      }),
    );
  }

  /** Every queue of the system (for the operators' queue board). */
  get queues(): Queue[] {
    return [...this.#queues.values()];
  }

  /** Whether the connected Redis gives acknowledged jobs the durability asked for. */
  get durability(): DurabilityState {
    return this.#durabilityState;
  }

  /** Asks the connected Redis, unless it was asked since the connection was made. */
  async checkDurability(): Promise<DurabilityState> {
    await this.#ensureDurabilityChecked();
    return this.#durabilityState;
  }

  /**
   * Adds the job under its derived id. A job whose id is already in the queue is not added again;
   * the call still succeeds, because the fact it carries is safely stored.
   *
   * Publishes that arrive in the same turn of the event loop are sent to Redis together, in one
   * fenced transaction: each caller resolves once Redis has stored its job, or rejects with
   * QUEUE_UNAVAILABLE (503) when the hold window passed first, in which case it never happens.
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
      batch.push({
        name,
        data,
        jobId,
        resolve,
        reject,
        startedAt: performance.now(),
        startedWallMs: Date.now(),
      });
    });
  }

  async #flush(queueName: QueueName): Promise<void> {
    const batch = this.#pending.get(queueName) ?? [];
    this.#pending.delete(queueName);
    const queue = this.#queues.get(queueName);
    const first = batch[0];
    if (queue === undefined || first === undefined) return;
    const giveUpAt = first.startedAt + this.#holdMs;
    const learnBy = first.startedAt + this.#holdMs * UNKNOWN_OUTCOME_FACTOR;
    let deadline: number | undefined;
    let lastProblem = 'Redis is unreachable';
    // Set once an attempt may have reached Redis without our learning how it ended: until we learn
    // it, the call cannot be refused, because the jobs may be stored.
    let outcomeUnknown = false;
    let inFlight: Promise<Attempt> | undefined;
    for (;;) {
      const now = performance.now();
      // Closed, or disconnected for good: nothing will bring Redis back to this publisher.
      if (this.#closed || this.#redis.status === 'end')
        return this.#refuse(batch, 'the publisher is closed');
      if (inFlight === undefined) {
        if (now >= giveUpAt && !outcomeUnknown) return this.#refuse(batch, lastProblem);
        if (now >= learnBy) return this.#refuseUnknown(queueName, batch);
        if (this.#redis.status !== 'ready') {
          await delay(50);
          continue;
        }
        if (now >= giveUpAt) {
          // Past the deadline no attempt of ours can store anything any more (the fence), and the
          // dropped connection can run nothing more: what is stored now is the outcome.
          const stored = await within(this.#storedJobIds(queue, batch), learnBy - now);
          if (stored === undefined) continue;
          return this.#settleKnown(queueName, batch, stored);
        }
        await within(this.#ensureDurabilityChecked(), giveUpAt - now);
        if (this.#durabilityState === 'unchecked') continue;
        if (this.#durabilityState === 'insufficient')
          return this.#refuse(batch, 'Redis does not persist each write (appendfsync always)');
        deadline ??= await within(this.#serverDeadline(first.startedWallMs), giveUpAt - now);
        if (deadline === undefined) {
          await delay(50);
          continue;
        }
        inFlight = this.#send(queue, batch, deadline);
      }
      // Before the hold window has passed, wait for the answer until then; after it, an attempt on
      // the wire is waited for until its answer comes (a stalled Redis answers once it runs again,
      // and refuses it if the deadline has passed), or the connection drops.
      const outcome = await within(inFlight, (now < giveUpAt ? giveUpAt : learnBy) - now);
      if (outcome === undefined) {
        if (performance.now() >= learnBy) return this.#refuseUnknown(queueName, batch);
        continue;
      }
      inFlight = undefined;
      if (outcome.kind === 'fenced') return this.#refuse(batch, 'the hold window passed');
      if (outcome.kind === 'stored') return this.#settle(queueName, batch, outcome.failures);
      lastProblem = (outcome.error as Error).message;
      // Only a command that was never written is known not to have run. Sending again is safe
      // either way: a job whose id is already stored is not added twice.
      if (!lastProblem.includes(NOT_SENT)) outcomeUnknown = true;
      await delay(50);
    }
  }

  /** The ids of the batch's jobs that Redis holds. */
  async #storedJobIds(queue: Queue, batch: readonly PendingPublish[]): Promise<Set<string>> {
    const exists = await Promise.all(
      batch.map(async (item) => (await this.#redis.exists(queue.toKey(item.jobId))) === 1),
    );
    return new Set(batch.filter((_item, index) => exists[index]).map((item) => item.jobId));
  }

  #settleKnown(queueName: QueueName, batch: readonly PendingPublish[], stored: Set<string>): void {
    const failures = new Map<number, Error>();
    batch.forEach((item, index) => {
      if (!stored.has(item.jobId)) failures.set(index, new Error('not stored in the hold window'));
    });
    this.#settle(queueName, batch, failures);
  }

  /**
   * Redis stayed away past every bound while an attempt's outcome was unknown. The caller is
   * refused, but the jobs may be stored: said loudly, for operators to reconcile.
   */
  #refuseUnknown(queueName: QueueName, batch: readonly PendingPublish[]): void {
    this.#logger?.error(
      { queue: queueName, jobIds: batch.map((item) => item.jobId) },
      'publish outcome unknown: Redis did not come back; the jobs may be stored',
    );
    this.#refuse(batch, 'Redis did not come back');
  }

  /** One fenced transaction: WATCH the fence key, run the fence, then MULTI, the adds, EXEC. */
  async #send(
    queue: Queue,
    batch: readonly PendingPublish[],
    deadlineMs: number,
  ): Promise<Attempt> {
    try {
      // BullMQ's view of our connection, with its scripts defined on it (at once after the first).
      const client = await queue.backend.client;
      const fenceKey = `${this.#prefix}:ack-fence:${randomUUID()}`;
      // These are written to the socket in this order, in one turn: nothing can come between them.
      // The socket is corked meanwhile, so the three go out in one write (one system call, one
      // packet) instead of three.
      // (No socket before the first connection: then the commands wait in ioredis's offline queue.)
      const socket: Redis['stream'] | undefined = this.#redis.stream;
      socket?.cork();
      let executed: Promise<[Error | null, unknown][] | null>;
      let watched: Promise<unknown>;
      let fenced: Promise<unknown>;
      let adds: Promise<unknown>[];
      try {
        watched = this.#redis.watch(fenceKey);
        fenced = this.#redis.ackFence(fenceKey, deadlineMs);
        const multi = client.multi();
        adds = batch.map((item) =>
          new Job(
            queue,
            item.name,
            item.data,
            { ...JOB_OPTIONS, jobId: item.jobId },
            item.jobId,
          ).addJob(multi),
        );
        executed = multi.exec();
      } finally {
        socket?.uncork();
      }
      const [, , results] = await Promise.all([watched, fenced, executed, ...adds]);
      if (results === null) return { kind: 'fenced' };
      const failures = new Map<number, Error>();
      results.forEach(([error], index) => {
        if (error !== null) failures.set(index, error);
      });
      return { kind: 'stored', failures };
    } catch (error) {
      return { kind: 'error', error };
    }
  }

  #settle(
    queueName: QueueName,
    batch: readonly PendingPublish[],
    failures: ReadonlyMap<number, Error>,
  ): void {
    const now = performance.now();
    batch.forEach((item, index) => {
      const failure = failures.get(index);
      if (failure !== undefined) {
        item.reject(unavailable(failure));
        return;
      }
      this.#onPublished?.((now - item.startedAt) / 1000);
      item.resolve({ jobId: item.jobId, queue: queueName });
    });
  }

  #refuse(batch: readonly PendingPublish[], reason: string): void {
    this.#logger?.warn({ jobs: batch.length, reason }, 'publish refused: nothing was stored');
    const failure = unavailable(new Error(reason));
    for (const item of batch) item.reject(failure);
  }

  /** The Redis-clock deadline of a publish that started at `startedWallMs` (local clock). */
  async #serverDeadline(startedWallMs: number): Promise<number | undefined> {
    if (this.#clock.serverTimeAt(startedWallMs) === undefined) await this.#clock.sample();
    const start = this.#clock.serverTimeAt(startedWallMs);
    return start === undefined ? undefined : start + this.#holdMs - FENCE_MARGIN_MS;
  }

  async #ensureDurabilityChecked(): Promise<void> {
    if (this.#durabilityState !== 'unchecked') return;
    this.#durabilityCheck ??= checkAckDurability(this.#redis, this.#durability)
      .then((state) => {
        this.#durabilityState = state;
        if (state === 'insufficient')
          this.#logger?.error(
            { durability: this.#durability },
            'Redis does not persist each write: acknowledgements are refused until it does',
          );
        if (state === 'unverifiable')
          this.#logger?.warn(
            'Redis does not allow CONFIG GET: trusting that it runs with appendfsync always',
          );
      })
      .catch(() => undefined)
      .finally(() => (this.#durabilityCheck = undefined));
    await this.#durabilityCheck;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#clock.stop();
    await Promise.all([...this.#queues.values()].map((queue) => queue.close()));
  }
}

function unavailable(cause: unknown): AppError {
  return new AppError(
    ERROR_CODES.queueUnavailable,
    'the request could not be stored, try again later',
    {
      httpStatus: 503,
      cause,
    },
  );
}

/** The promise's value, or undefined once `ms` have passed; the timer never outlives the race. */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  // A plain timer, cleared when the promise wins: aborting a timers/promises delay instead builds
  // an AbortError (a DOMException with its stack) on every call, measured at 2% of the ingress's
  // CPU under load.
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<undefined>((resolve) => {
        timer = setTimeout(resolve, Math.max(0, ms), undefined);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * The connection a publisher needs: it never queues commands in memory while Redis is away (the
 * publisher decides how long a call waits for Redis, and knows what was never sent), and it
 * reconnects quickly, since calls wait for Redis only as long as the hold window.
 */
export function createProducerConnection(url: string, logger: Logger): Redis {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 500),
  });
  redis.on('error', (error) =>
    logger.warn({ err: { message: error.message } }, 'redis connection error'),
  );
  return redis;
}
