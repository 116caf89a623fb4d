// A per-connection mutex in Redis, held around every write of a connection document where the
// server's conditional updates are not atomic (FerretDB: connection-collection.ts decides).
// FerretDB v1 evaluates the filter and writes in separate steps, so concurrent
// `findOneAndUpdate({ _id, version })` calls can all "win" (measured: 48 of 50 rounds of eight
// concurrent updates had several winners). On MongoDB the conditional update alone suffices.
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type { Cluster, Redis } from 'ioredis';
import { AppError, ERROR_CODES } from '@fortellis-admin/contracts';
import { connectionKey } from './connection-states.ts';

/** Deletes the lock only if it still holds our token. */
const RELEASE = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

export interface ConnectionLockOptions {
  /** Key prefix, e.g. the queue prefix, so deployments sharing a Redis stay apart. */
  prefix: string;
  /** Lifetime of a lock whose holder died. Default 15 s: far longer than any work under it. */
  ttlMs?: number;
  /** How long to wait for a busy lock before giving up. Default 10 s. */
  waitMs?: number;
}

export class ConnectionLocks {
  readonly #redis: Redis | Cluster;
  readonly #prefix: string;
  readonly #ttlMs: number;
  readonly #waitMs: number;

  constructor(redis: Redis | Cluster, options: ConnectionLockOptions) {
    this.#redis = redis;
    this.#prefix = options.prefix;
    this.#ttlMs = options.ttlMs ?? 15_000;
    this.#waitMs = options.waitMs ?? 10_000;
  }

  /** Runs `work` while holding the connection's lock. Throws AppError(CONFLICT) if it stays busy. */
  async withLock<T>(connectionId: string, work: () => Promise<T>): Promise<T> {
    const key = `${this.#prefix}:lock:connection:${connectionKey(connectionId)}`;
    const token = randomUUID();
    const deadline = Date.now() + this.#waitMs;
    let pause = 2;
    while (!(await this.#take(key, token))) {
      if (Date.now() > deadline) {
        throw new AppError(ERROR_CODES.conflict, `connection ${connectionId} is busy`, {
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

  async #take(key: string, token: string): Promise<boolean> {
    if ((await this.#redis.set(key, token, 'PX', this.#ttlMs, 'NX')) === 'OK') return true;
    // After a failover the driver sends again a SET whose answer was lost: that SET may have
    // stored our token, and the lock is then ours.
    return (await this.#redis.get(key)) === token;
  }
}
