// A per-connection mutex in Redis, held around every write of a connection document where the
// server's conditional updates are not atomic (FerretDB: connection-collection.ts decides).
// FerretDB v1 evaluates the filter and writes in separate steps, so concurrent
// `findOneAndUpdate({ _id, version })` calls can all "win" (measured: 48 of 50 rounds of eight
// concurrent updates had several winners). On MongoDB the conditional update alone suffices.
// With replicas asked for (ACK_REPLICAS), a lock counts as taken only once they hold it: a lock
// the primary alone held is gone after a failover, and a second worker would then write beside
// the first (replica-wait.ts).
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { Cluster, Redis } from 'ioredis';
import { AppError, ERROR_CODES } from '@fortellis-admin/contracts';
import { connectionKey } from './connection-states.ts';
import { evalConfirmed, type ReplicaWait } from './replica-wait.ts';

/** Deletes the lock only if it still holds our token. */
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/**
 * Takes the lock, or finds it ours: after a failover the driver sends again a SET whose answer was
 * lost, and that SET may have stored our token. 1 when the lock is ours.
 */
const TAKE = `if redis.call('set', KEYS[1], ARGV[1], 'PX', ARGV[2], 'NX') then return 1 end
if redis.call('get', KEYS[1]) == ARGV[1] then return 1 end
return 0`;

export interface ConnectionLockOptions {
  /** Key prefix, e.g. the queue prefix, so deployments sharing a Redis stay apart. */
  prefix: string;
  /** Lifetime of a lock whose holder died. Default 15 s: far longer than any work under it. */
  ttlMs?: number;
  /** How long to wait for a busy lock before giving up. Default 10 s. */
  waitMs?: number;
  /** Replicas that must hold the lock before it counts as taken (none by default). */
  replicaWait?: ReplicaWait;
}

export class ConnectionLocks {
  readonly #redis: Redis | Cluster;
  readonly #prefix: string;
  readonly #ttlMs: number;
  readonly #waitMs: number;
  readonly #replicaWait: ReplicaWait | undefined;

  constructor(redis: Redis | Cluster, options: ConnectionLockOptions) {
    this.#redis = redis;
    this.#prefix = options.prefix;
    this.#ttlMs = options.ttlMs ?? 15_000;
    this.#waitMs = options.waitMs ?? 10_000;
    this.#replicaWait = options.replicaWait;
  }

  /** Runs `work` while holding the connection's lock. Throws AppError(CONFLICT) if it stays busy. */
  async withLock<T>(connectionId: string, work: () => Promise<T>): Promise<T> {
    const key = `${this.#prefix}:lock:connection:${connectionKey(connectionId)}`;
    const token = randomUUID();
    const deadline = Date.now() + this.#waitMs;
    let pause = 2;
    let taken: Take;
    while ((taken = await this.#take(key, token)) !== 'taken') {
      if (Date.now() > deadline) {
        const why =
          taken === 'busy'
            ? 'is busy'
            : 'cannot be locked: too few Redis replicas acknowledge its lock (ACK_REPLICAS)';
        throw new AppError(ERROR_CODES.conflict, `connection ${connectionId} ${why}`, {
          httpStatus: 409,
        });
      }
      await delay(pause);
      pause = Math.min(pause * 2, 50);
    }
    try {
      return await work();
    } finally {
      await this.#redis.eval(RELEASE, 1, key, token);
    }
  }

  async #take(key: string, token: string): Promise<Take> {
    const { result, confirmed } = await evalConfirmed(
      this.#redis,
      this.#replicaWait,
      TAKE,
      key,
      token,
      this.#ttlMs,
    );
    if (Number(result) !== 1) return 'busy';
    if (confirmed) return 'taken';
    // Ours on the primary alone: a failover now would hand it to another worker. Give it back
    // and try again, rather than write under a lock that may vanish.
    await this.#redis.eval(RELEASE, 1, key, token);
    return 'unconfirmed';
  }
}

type Take = 'taken' | 'busy' | 'unconfirmed';
