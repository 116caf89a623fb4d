// Publishes jobs to the BullMQ queues so that an acknowledgement is always true: a call resolves
// only once Redis has stored its job (durably, when Redis runs with appendfsync always), rides out
// Redis outages shorter than the hold window, and a call that is refused can never take effect
// later, because every publish is fenced by a deadline that Redis itself checks. With replicas, a
// call resolves only once enough replicas hold its job too (WAIT), so that the loss of the primary
// cannot lose what was acknowledged.
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
import { checkAckDurability, type AckDurability, type DurabilityState } from './ack-durability.ts';
import { RedisClock } from './redis-clock.ts';
import type { RedisClient } from './redis-connection.ts';
import { REPLICA_WAIT_SLICE_MS, ReplicaConfirmer } from './replica-confirmer.ts';

export interface PublishResult {
  jobId: string;
  queue: QueueName;
}

export interface JobPublisherOptions {
  /**
   * A connection with `enableOfflineQueue: false`, so nothing waits unsent in memory: to one Redis
   * (direct or behind Sentinels) or to a Cluster (then `prefix` must be a hash tag, `{name}`, so
   * that every key of a publish is in one slot).
   */
  connection: RedisClient;
  prefix: string;
  /** How long a publish may wait for Redis (an outage, a failover, a stall). Default 10 s. */
  holdMs?: number;
  /** What Redis must guarantee before a job is acknowledged. Default `fsync`. */
  durability?: AckDurability;
  /**
   * Replicas that must hold a job (WAIT) before it is acknowledged. Default 0: the primary's word
   * (and its fsync) is enough.
   */
  ackReplicas?: number;
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

/**
 * Errors a job's script meets when the server may not write now: a primary turned replica
 * (READONLY), or one with fewer good replicas than its `min-replicas-to-write` (NOREPLICAS). Nothing
 * was stored; sending again (once reconnected, or once the replicas are back) may succeed.
 */
const NOT_WRITABLE_NOW = /\b(READONLY|NOREPLICAS)\b/;

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

type StoredAttempt = {
  kind: 'stored';
  failures: ReadonlyMap<number, Error>;
  /** Replicas that acknowledged it (WAIT at the end of the pipeline); undefined without WAIT. */
  acked: number | undefined;
};

type Attempt =
  | StoredAttempt
  | { kind: 'fenced' }
  /** `mayHaveRun`: false only when Redis cannot have run it (never written, or refused). */
  | { kind: 'error'; error: unknown; mayHaveRun: boolean };

/** The limits of one batch, in performance.now() time. */
interface Bounds {
  /** The hold window's end: past it, the fence refuses every attempt. */
  giveUpAt: number;
  /** The last bound, for jobs that may be stored: refused loudly then. */
  learnBy: number;
}

type FencedRedis = RedisClient & { ackFence(key: string, deadlineMs: number): Promise<number> };

/** A pipeline, as the publish builds it (ioredis's types do not know the fence command). */
interface PublishPipeline {
  watch(key: string): unknown;
  ackFence(key: string, deadlineMs: number): unknown;
  multi(): unknown;
  wait(replicas: number, timeoutMs: number): unknown;
  exec(): Promise<[Error | null, unknown][] | null>;
}

export class JobPublisher {
  readonly #redis: FencedRedis;
  readonly #prefix: string;
  readonly #queues: Map<QueueName, Queue>;
  readonly #holdMs: number;
  readonly #durability: AckDurability;
  readonly #onPublished: ((seconds: number) => void) | undefined;
  readonly #logger: Logger | undefined;
  readonly #clock: RedisClock;
  /** Present when acknowledgements wait for replicas. */
  readonly #confirmer: ReplicaConfirmer | undefined;
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
    // On a Cluster, TIME is read on the node that runs the fence: the one of the prefix's slot.
    this.#clock = new RedisClock(redis, { slotKey: `${options.prefix}:ack-fence` });
    const replicas = options.ackReplicas ?? 0;
    this.#confirmer =
      replicas > 0
        ? new ReplicaConfirmer({
            connection: redis,
            replicas,
            markerKey: `${options.prefix}:ack-replicated`,
            sliceMs: Math.max(10, Math.floor(Math.min(REPLICA_WAIT_SLICE_MS, this.#holdMs / 4))),
          })
        : undefined;
    // Every (re)connection may be to another server (a restart, a failover): check it again.
    redis.on('ready', () => {
      this.#durabilityState = 'unchecked';
      this.#confirmer?.forget();
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
    const pending = this.#pending.get(queueName) ?? [];
    this.#pending.delete(queueName);
    const queue = this.#queues.get(queueName);
    const first = pending[0];
    if (queue === undefined || first === undefined) return;
    let batch: readonly PendingPublish[] = pending;
    const giveUpAt = first.startedAt + this.#holdMs;
    const learnBy = first.startedAt + this.#holdMs * UNKNOWN_OUTCOME_FACTOR;
    const bounds: Bounds = { giveUpAt, learnBy };
    let deadline: number | undefined;
    let lastProblem = 'Redis is unreachable';
    // Set once an attempt may have reached Redis without our learning how it ended: until we learn
    // it, the call cannot be refused, because the jobs may be stored.
    let outcomeUnknown = false;
    // Set once an attempt stored the jobs (on the primary of the time, which may since be lost).
    let wereStored = false;
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
          if (this.#confirmer !== undefined)
            return void (await this.#holdForReplicas(queueName, queue, batch, bounds, wereStored));
          const stored = await within(this.#storedJobIds(queue, batch), learnBy - now);
          if (stored === undefined) continue;
          return this.#settleKnown(queueName, batch, stored);
        }
        const ready = await this.#readyToSend(first.startedWallMs, giveUpAt, deadline);
        if (ready === 'insufficient')
          return this.#refuse(batch, 'Redis does not persist each write (appendfsync always)');
        if (ready === undefined) continue;
        deadline = ready;
        inFlight = this.#send(queue, batch, deadline, giveUpAt - now);
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
      if (outcome.kind === 'fenced') {
        if (!outcomeUnknown) return this.#refuse(batch, 'the hold window passed');
        // An earlier attempt may have stored the jobs: what is stored decides, once the fence
        // holds for certain (at the hold window's end).
        await delay(Math.max(0, giveUpAt - performance.now()));
        continue;
      }
      if (outcome.kind === 'stored') {
        const unconfirmed = this.#settleStored(queueName, batch, outcome);
        if (unconfirmed.length === 0) return;
        wereStored = true;
        batch = await this.#holdForReplicas(queueName, queue, unconfirmed, bounds, true);
        if (batch.length === 0) return;
        // Stored once, then gone (a failover lost them): sent again while the fence allows.
        outcomeUnknown = true;
        continue;
      }
      lastProblem = errorMessage(outcome.error);
      // Only a command that was never written, or that Redis refused, is known not to have run.
      // Sending again is safe either way: a job whose id is already stored is not added twice.
      if (outcome.mayHaveRun) outcomeUnknown = true;
      await delay(50);
    }
  }

  /**
   * What must hold before a batch is sent: Redis persists each write as asked, the deadline is
   * known in Redis's clock, and (with replicas) enough replicas follow. Answers the deadline once
   * all hold, `insufficient` when Redis does not persist as asked, undefined when it is not known
   * yet (after waiting a little: the caller asks again).
   */
  async #readyToSend(
    startedWallMs: number,
    giveUpAt: number,
    known: number | undefined,
  ): Promise<number | 'insufficient' | undefined> {
    const now = performance.now();
    await within(this.#ensureDurabilityChecked(), giveUpAt - now);
    if (this.#durabilityState === 'unchecked') return undefined;
    if (this.#durabilityState === 'insufficient') return 'insufficient';
    const deadline = known ?? (await within(this.#serverDeadline(startedWallMs), giveUpAt - now));
    if (deadline === undefined) {
      await delay(50);
      return undefined;
    }
    if (this.#confirmer?.lagging === true) {
      // Too few replicas follow: a job stored now could be neither acknowledged nor refused.
      // Wait (unsent, so still refusable) for a round that finds enough of them again.
      const probe = await within(this.#confirmer.confirm([]), giveUpAt - now);
      // A round that was answered waited its WAIT; one that failed (a demoted primary) did not.
      if (probe?.kind !== 'answered') await delay(50);
      return undefined;
    }
    return deadline;
  }

  /**
   * Settles a stored attempt's jobs: those whose script failed are refused; the others are
   * acknowledged when enough replicas hold them, else returned (stored, not yet confirmed).
   */
  #settleStored(
    queueName: QueueName,
    batch: readonly PendingPublish[],
    outcome: StoredAttempt,
  ): PendingPublish[] {
    const confirmer = this.#confirmer;
    if (confirmer === undefined || (outcome.acked ?? -1) >= confirmer.replicas) {
      this.#settle(queueName, batch, outcome.failures);
      return [];
    }
    const stored: PendingPublish[] = [];
    batch.forEach((item, index) => {
      const failure = outcome.failures.get(index);
      if (failure === undefined) stored.push(item);
      else item.reject(unavailable(failure));
    });
    return stored;
  }

  /**
   * Holds jobs that may be stored until enough replicas hold them. Each round asks the server the
   * connection is on now (after a failover, the new primary) which of them it holds: those are
   * acknowledged once enough of its replicas hold them too. Those it does not hold are sent again
   * (returned) while the fence still lets them be stored, and refused after it: then nothing can
   * store them any more. Jobs still unconfirmed at the last bound are refused loudly: they are
   * stored and may take effect. Returns the jobs to send again.
   */
  async #holdForReplicas(
    queueName: QueueName,
    queue: Queue,
    items: readonly PendingPublish[],
    bounds: Bounds,
    wereStored: boolean,
  ): Promise<readonly PendingPublish[]> {
    const confirmer = this.#confirmer;
    let held = items;
    while (confirmer !== undefined && held.length > 0) {
      const now = performance.now();
      if (now >= bounds.learnBy || this.#closed || this.#redis.status === 'end') {
        this.#refuseUnknown(queueName, held, 'too few replicas acknowledged the jobs in time');
        return [];
      }
      if (this.#redis.status !== 'ready') {
        await delay(50);
        continue;
      }
      const keys = held.map((item) => queue.toKey(item.jobId));
      const round = await within(confirmer.confirm(keys), bounds.learnBy - now);
      if (round === undefined) continue;
      if (round.kind === 'error') {
        await delay(50);
        continue;
      }
      const present = held.filter((_item, index) => round.present[index] === true);
      if (present.length < held.length) {
        if (performance.now() < bounds.giveUpAt) return held;
        this.#refuseLost(
          held.filter((_item, index) => round.present[index] !== true),
          wereStored,
        );
        held = present;
      }
      if (held.length > 0 && round.acked >= confirmer.replicas) {
        this.#settle(queueName, held, new Map());
        return [];
      }
    }
    return [];
  }

  /**
   * Jobs the current primary does not hold once the fence has passed: nothing can store them any
   * more. If they had been stored (on a primary since lost), a worker may have taken them from it.
   */
  #refuseLost(batch: readonly PendingPublish[], wereStored: boolean): void {
    if (wereStored)
      this.#logger?.error(
        { jobIds: batch.map((item) => item.jobId) },
        'publish refused: the jobs were stored on a primary that was lost before its replicas ' +
          'had them; a worker that took them from it may have acted on them',
      );
    this.#refuse(batch, 'not stored on the current primary');
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
  #refuseUnknown(
    queueName: QueueName,
    batch: readonly PendingPublish[],
    why = 'Redis did not come back',
  ): void {
    this.#logger?.error(
      { queue: queueName, jobIds: batch.map((item) => item.jobId) },
      `publish outcome unknown: ${why}; the jobs may be stored`,
    );
    this.#refuse(batch, why);
  }

  /**
   * One fenced transaction, in one pipeline: WATCH the fence key, run the fence, then MULTI, the
   * adds, EXEC and, when waiting for replicas and no other WAIT is out, WAIT.
   */
  async #send(
    queue: Queue,
    batch: readonly PendingPublish[],
    deadlineMs: number,
    holdLeftMs: number,
  ): Promise<Attempt> {
    const confirmer = this.#confirmer;
    const waitMs =
      confirmer?.claimWait() === true
        ? Math.max(1, Math.min(confirmer.sliceMs, Math.floor(holdLeftMs)))
        : undefined;
    let acked: number | undefined;
    try {
      // BullMQ's view of our connection, with its scripts defined on it (at once after the first).
      const client = await queue.backend.client;
      const fenceKey = `${this.#prefix}:ack-fence:${randomUUID()}`;
      // A pipeline goes out in one write, in this order, on one connection (on a Cluster, that of
      // the node holding the prefix's slot): nothing can come between the WATCH and the EXEC, and
      // a Cluster client that sends it again after a redirection sends all of it again. WAIT after
      // EXEC counts the replicas holding every write of this connection so far.
      const transaction = client.pipeline();
      const pipeline = transaction as unknown as PublishPipeline;
      pipeline.watch(fenceKey);
      pipeline.ackFence(fenceKey, deadlineMs);
      pipeline.multi();
      const adds = batch.map((item) =>
        new Job(
          queue,
          item.name,
          item.data,
          { ...JOB_OPTIONS, jobId: item.jobId },
          item.jobId,
        ).addJob(transaction),
      );
      // Inside MULTI, exec() only queues EXEC; the second exec() sends the pipeline.
      void pipeline.exec();
      if (waitMs !== undefined && confirmer !== undefined)
        pipeline.wait(confirmer.replicas, waitMs);
      const [replies] = await Promise.all([pipeline.exec(), ...adds]);
      const attempt = readAttempt(replies ?? [], batch.length, waitMs !== undefined);
      if (attempt.kind === 'stored') acked = attempt.acked;
      return attempt;
    } catch (error) {
      return { kind: 'error', error, mayHaveRun: mayHaveRun(error) };
    } finally {
      if (waitMs !== undefined) confirmer?.releaseWait(acked);
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

/** What the replies of [WATCH, fence, MULTI, ...adds, EXEC, WAIT?] say happened. */
function readAttempt(
  replies: readonly [Error | null, unknown][],
  jobs: number,
  waited: boolean,
): Attempt {
  const [execError, executed] = replies[3 + jobs] ?? [new Error('no answer to EXEC'), undefined];
  if (execError !== null)
    return { kind: 'error', error: execError, mayHaveRun: mayHaveRun(execError) };
  if (executed === null) return { kind: 'fenced' };
  const failures = new Map<number, Error>();
  let notWritable: Error | undefined;
  (executed as unknown[]).forEach((result, index) => {
    if (!(result instanceof Error)) return;
    failures.set(index, result);
    if (NOT_WRITABLE_NOW.test(result.message)) notWritable = result;
  });
  // The server may not write now (demoted, or too few replicas): worth sending again in the hold
  // window rather than refusing at once. Any job that was stored makes the outcome not clean.
  if (notWritable !== undefined)
    return { kind: 'error', error: notWritable, mayHaveRun: failures.size < jobs };
  const [waitError, acked] = waited ? (replies[4 + jobs] ?? [new Error('no answer'), 0]) : [null];
  return {
    kind: 'stored',
    failures,
    acked: !waited ? undefined : waitError === null ? Number(acked) : 0,
  };
}

/** Whether a command that failed with `error` may have run: not when never written, or refused. */
function mayHaveRun(error: unknown): boolean {
  if (!(error instanceof Error)) return true;
  return !(error.message.includes(NOT_SENT) || error.name === 'ReplyError');
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
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
