// The Redis server's clock as seen from the ingress: the offset between the two clocks, sampled
// with TIME, so that an acknowledgement deadline can be written in the clock Redis checks it with.
import type { RedisClient } from './redis-connection.ts';

/** Samples whose round trip took longer than this are not trusted: the offset error is RTT / 2. */
export const MAX_SAMPLE_RTT_MS = 50;

export interface RedisClockOptions {
  /** How often the offset is sampled again. Default 10 s. */
  sampleEveryMs?: number;
  /** The local wall clock. */
  now?: () => number;
  /**
   * On a Cluster, a key of the slot whose node checks the deadlines: TIME is read there (a keyless
   * TIME would go to any node). Ignored on one Redis.
   */
  slotKey?: string;
}

/** TIME, read by a script so that a Cluster client sends it to the node of its key's slot. */
const TIME_SCRIPT = `return redis.call('TIME')`;

type TimedRedis = RedisClient & { ackTime(slotKey: string): Promise<[string, string]> };

export class RedisClock {
  readonly #redis: TimedRedis;
  readonly #slotKey: string | undefined;
  readonly #now: () => number;
  readonly #timer: NodeJS.Timeout;
  #offsetMs: number | undefined;
  #sampling: Promise<void> | undefined;

  constructor(redis: RedisClient, options: RedisClockOptions = {}) {
    const timed = redis as TimedRedis;
    this.#slotKey = redis.isCluster ? options.slotKey : undefined;
    if (this.#slotKey !== undefined && typeof timed.ackTime !== 'function')
      timed.defineCommand('ackTime', { numberOfKeys: 1, lua: TIME_SCRIPT });
    this.#redis = timed;
    this.#now = options.now ?? Date.now;
    this.#timer = setInterval(() => void this.sample(), options.sampleEveryMs ?? 10_000);
    this.#timer.unref();
  }

  /** The Redis clock's reading at the local instant `localMs`, once an offset is known. */
  serverTimeAt(localMs: number): number | undefined {
    return this.#offsetMs === undefined ? undefined : localMs + this.#offsetMs;
  }

  /** Samples the offset (one TIME). Never throws: a failed or slow sample keeps the last offset. */
  sample(): Promise<void> {
    this.#sampling ??= this.#sampleOnce().finally(() => (this.#sampling = undefined));
    return this.#sampling;
  }

  async #sampleOnce(): Promise<void> {
    if (this.#redis.status !== 'ready') return;
    const sentAt = this.#now();
    try {
      const [seconds, micros] =
        this.#slotKey === undefined
          ? await this.#redis.time()
          : await this.#redis.ackTime(this.#slotKey);
      const receivedAt = this.#now();
      if (receivedAt - sentAt > MAX_SAMPLE_RTT_MS) return;
      const serverMs = Number(seconds) * 1000 + Math.floor(Number(micros) / 1000);
      this.#offsetMs = serverMs - (sentAt + receivedAt) / 2;
    } catch {
      // Redis is away: the next sample (or the next publish) tries again.
    }
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
