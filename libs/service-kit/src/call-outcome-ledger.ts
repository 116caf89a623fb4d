// How each outside call ended, kept in Redis beside the jobs, keyed by the lease it was made under.
// A worker records the end of a call here before it writes it to the database; when the database
// write fails (the server crashed or stalled), the retried job finds the recorded end and writes it
// instead of calling the party again. A worker that takes over an expired lease first marks the
// earlier attempt abandoned, so an attempt that outlived its lease cannot record afterwards: one
// entry per lease, set once (SET NX), kept as long as any retry may ask. With replicas asked for
// (ACK_REPLICAS), an entry counts only once they hold it: an end or an abandonment the primary
// alone held is gone after a failover, and the call would then be made twice.
import { setTimeout as delay } from 'node:timers/promises';
import type { Cluster, Redis } from 'ioredis';
import type { Logger } from 'pino';
import { evalConfirmed, type ReplicaWait } from '@fortellis-admin/connection-store';

/** The entry of an attempt that was taken over before it recorded anything. */
const ABANDONED = 'abandoned';

/**
 * Records an end (ARGV[1]) once: 1 when the entry is ours (stored now, or by a SET the driver sent
 * again after a failover), 0 when the attempt was marked abandoned or another end is there.
 */
const RECORD = `if redis.call('set', KEYS[1], ARGV[1], 'EX', ARGV[2], 'NX') then return 1 end
if redis.call('get', KEYS[1]) == ARGV[1] then return 1 end
return 0`;

/** Marks the attempt abandoned unless it recorded something; answers the entry there now. */
const ABANDON = `redis.call('set', KEYS[1], ARGV[1], 'EX', ARGV[2], 'NX')
return redis.call('get', KEYS[1])`;

export interface CallOutcomeLedger {
  /**
   * Records how the call made under `leaseId` ended. False when the attempt was already marked
   * abandoned (another worker took over its lease): the caller must then leave the end unwritten.
   */
  record(leaseId: string, outcome: object): Promise<boolean>;
  /**
   * What the attempt under an earlier, unfinished lease recorded, or null if nothing. With
   * `abandon`, an attempt that recorded nothing is marked abandoned in the same step, so it cannot
   * record later.
   */
  outcomeOf<T extends object>(leaseId: string, options: { abandon: boolean }): Promise<T | null>;
}

export interface RedisCallOutcomeLedgerOptions {
  /** Key prefix (the queue prefix), so deployments sharing a Redis stay apart. */
  prefix: string;
  /** How long an entry is kept: longer than any retry horizon. Default 30 days. */
  ttlSeconds?: number;
  /** Replicas that must hold an entry before it counts (none by default). */
  replicaWait?: ReplicaWait;
  /** How long an entry is asked again for its replicas before it is given up. Default 10 s. */
  confirmMs?: number;
}

export class RedisCallOutcomeLedger implements CallOutcomeLedger {
  readonly #redis: Redis | Cluster;
  readonly #prefix: string;
  readonly #ttlSeconds: number;
  readonly #replicaWait: ReplicaWait | undefined;
  readonly #confirmMs: number;

  constructor(redis: Redis | Cluster, options: RedisCallOutcomeLedgerOptions) {
    this.#redis = redis;
    this.#prefix = options.prefix;
    this.#ttlSeconds = options.ttlSeconds ?? 30 * 24 * 3600;
    this.#replicaWait = options.replicaWait;
    this.#confirmMs = options.confirmMs ?? 10_000;
  }

  async record(leaseId: string, outcome: object): Promise<boolean> {
    const entry = JSON.stringify(outcome);
    const result = await this.#confirmed(RECORD, this.#key(leaseId), entry);
    return Number(result) === 1;
  }

  async outcomeOf<T extends object>(
    leaseId: string,
    options: { abandon: boolean },
  ): Promise<T | null> {
    const key = this.#key(leaseId);
    const entry = options.abandon
      ? await this.#confirmed(ABANDON, key, ABANDONED)
      : await this.#redis.get(key);
    return typeof entry !== 'string' || entry === ABANDONED ? null : (JSON.parse(entry) as T);
  }

  /**
   * Runs a write-once script until enough replicas hold what it left (asked again, idempotently,
   * while they do not); throws when they still do not after `confirmMs`: the caller cannot know
   * whether the entry would survive a failover, and must act as if the ledger were unreachable.
   */
  async #confirmed(script: string, key: string, value: string): Promise<unknown> {
    const deadline = Date.now() + this.#confirmMs;
    for (;;) {
      const { result, confirmed } = await evalConfirmed(
        this.#redis,
        this.#replicaWait,
        script,
        key,
        value,
        this.#ttlSeconds,
      );
      if (confirmed) return result;
      if (Date.now() > deadline)
        throw new Error('too few Redis replicas acknowledge the call-outcome entry (ACK_REPLICAS)');
      await delay(50);
    }
  }

  #key(leaseId: string): string {
    return `${this.#prefix}:call-outcome:${leaseId}`;
  }
}

/**
 * How recording a call's end went: `recorded` (a retry will find it), `taken-over` (another
 * worker took the attempt's lease over: that worker now owns the call, and this end must not be
 * written) or `not-recorded` (the ledger could not be reached or its replicas did not confirm the
 * entry: only the database write can keep the end now).
 */
export type CallEndRecord = 'recorded' | 'taken-over' | 'not-recorded';

/** Records how a call ended, before the database write (see {@link CallEndRecord}). */
export async function recordCallEnd(
  ledger: CallOutcomeLedger,
  leaseId: string,
  end: object,
  log: Pick<Logger, 'error' | 'warn'>,
): Promise<CallEndRecord> {
  try {
    const recorded = await ledger.record(leaseId, end);
    if (!recorded) log.error('call attempt outlived its lease: another worker took it over');
    return recorded ? 'recorded' : 'taken-over';
  } catch (error) {
    log.warn({ err: { message: (error as Error).message } }, 'call outcome not recorded');
    return 'not-recorded';
  }
}

/**
 * How long a lease must last to cover one whole attempt: a token request and the call, twice (a
 * refused token is fetched again and the call repeated), with a margin for the writes around them.
 */
export function attemptLeaseMs(timeouts: { callMs: number; tokenMs: number }): number {
  return 2 * (timeouts.callMs + timeouts.tokenMs) + 5000;
}
