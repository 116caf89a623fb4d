// Confirms that stored jobs are on enough replicas before they are acknowledged: WAIT, one at a
// time on the publisher's connection, either at the end of a publish's own pipeline or in a round
// of its own (a marker write, then WAIT) that covers every job handed in before the round began.
import type { RedisClient } from './redis-connection.ts';

/**
 * The longest a single WAIT may hold the connection. A WAIT blocks every later command on its
 * connection until it returns, so it is kept short and repeated rather than given the whole hold
 * window: a replica that stops answering then costs the connection at most this much before the
 * publisher knows, and stops storing jobs it could not confirm.
 */
export const REPLICA_WAIT_SLICE_MS = 200;

/**
 * Runs on the server the connection is on now, whichever that is (a failover may have moved it):
 * says which of the jobs' keys it holds, then writes the marker. A replica that acknowledges the
 * marker holds everything the server held before it, so the present jobs among them.
 */
const CONFIRM_SCRIPT = `
local present = {}
for i = 2, #KEYS do present[i - 1] = redis.call('EXISTS', KEYS[i]) end
redis.call('SET', KEYS[1], '1', 'PX', 60000)
return present`;

export type ConfirmRound =
  /** `present[i]`: whether the server holds the i-th key; `acked`: replicas holding all of it. */
  | { kind: 'answered'; acked: number; present: boolean[] }
  /** The round did not run or its answer was lost (a demoted primary, a dropped connection). */
  | { kind: 'error'; error: unknown };

interface Waiter {
  keys: readonly string[];
  resolve: (round: ConfirmRound) => void;
}

interface RoundPipeline {
  ackConfirm(numberOfKeys: number, ...keys: string[]): RoundPipeline;
  wait(replicas: number, timeoutMs: number): RoundPipeline;
  exec(): Promise<[Error | null, unknown][] | null>;
}

type ConfirmingRedis = RedisClient & { ackConfirm(...args: unknown[]): Promise<unknown> };

export interface ReplicaConfirmerOptions {
  connection: RedisClient;
  /** Replicas that must hold a job before it is acknowledged (at least 1). */
  replicas: number;
  /** The marker's key: in the slot of the jobs' keys on a Cluster (the same hash tag). */
  markerKey: string;
  /** The longest one WAIT may block the connection. */
  sliceMs: number;
}

export class ReplicaConfirmer {
  readonly #redis: ConfirmingRedis;
  readonly #markerKey: string;
  readonly replicas: number;
  readonly sliceMs: number;
  #waiters: Waiter[] = [];
  /** Whether a WAIT is on the wire: at most one, so a stalled replica blocks for one slice. */
  #waiting = false;
  /** Unknown (so taken as lagging) until a WAIT answers: no job is stored before one has. */
  #lagging = true;

  constructor(options: ReplicaConfirmerOptions) {
    const redis = options.connection as ConfirmingRedis;
    if (typeof redis.ackConfirm !== 'function')
      redis.defineCommand('ackConfirm', { lua: CONFIRM_SCRIPT });
    this.#redis = redis;
    this.#markerKey = options.markerKey;
    this.replicas = options.replicas;
    this.sliceMs = options.sliceMs;
  }

  /**
   * Whether the last WAIT found too few replicas: new jobs are then not stored until a round finds
   * enough (they could not be confirmed, and a job stored but unconfirmed cannot be refused).
   */
  get lagging(): boolean {
    return this.#lagging;
  }

  /** The connection is new (perhaps to another primary): ask again before storing anything. */
  forget(): void {
    this.#lagging = true;
  }

  /** Claims the connection's one WAIT for a publish's own pipeline; false when one is out. */
  claimWait(): boolean {
    if (this.#waiting) return false;
    this.#waiting = true;
    return true;
  }

  /** Gives the WAIT back, with its answer (undefined when it had none). */
  releaseWait(acked: number | undefined): void {
    this.#waiting = false;
    if (acked !== undefined) this.#lagging = acked < this.replicas;
    void this.#run();
  }

  /**
   * Joins the next round: answers whether the server holds each key and how many replicas hold all
   * that it held. With no keys, it only asks whether enough replicas follow (a probe).
   */
  confirm(keys: readonly string[]): Promise<ConfirmRound> {
    return new Promise((resolve) => {
      this.#waiters.push({ keys, resolve });
      void this.#run();
    });
  }

  async #run(): Promise<void> {
    while (!this.#waiting && this.#waiters.length > 0) {
      const waiters = this.#waiters.splice(0);
      this.#waiting = true;
      let round: ConfirmRound;
      try {
        round = await this.#round(waiters.flatMap((waiter) => waiter.keys));
      } finally {
        this.#waiting = false;
      }
      if (round.kind === 'answered') this.#lagging = round.acked < this.replicas;
      let offset = 0;
      for (const waiter of waiters) {
        const from = offset;
        offset += waiter.keys.length;
        waiter.resolve(
          round.kind === 'answered'
            ? { ...round, present: round.present.slice(from, offset) }
            : round,
        );
      }
    }
  }

  /** One pipeline (on a Cluster, to the node of the marker's slot): the script, then WAIT. */
  async #round(keys: readonly string[]): Promise<ConfirmRound> {
    try {
      const pipeline = this.#redis.pipeline() as unknown as RoundPipeline;
      pipeline.ackConfirm(1 + keys.length, this.#markerKey, ...keys);
      pipeline.wait(this.replicas, this.sliceMs);
      const replies = (await pipeline.exec()) ?? [];
      const [scriptError, present] = replies[0] ?? [new Error('no answer'), undefined];
      if (scriptError !== null) return { kind: 'error', error: scriptError };
      const [waitError, acked] = replies[1] ?? [new Error('no answer'), undefined];
      if (waitError !== null) return { kind: 'error', error: waitError };
      return {
        kind: 'answered',
        acked: Number(acked),
        present: (present as number[]).map((exists) => exists === 1),
      };
    } catch (error) {
      return { kind: 'error', error };
    }
  }
}
