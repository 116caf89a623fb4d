// The Redis server's clock as seen from the ingress: the offset between the two clocks, sampled
// with TIME, so that an acknowledgement deadline can be written in the clock Redis checks it with.
import type { Redis } from 'ioredis';

/** Samples whose round trip took longer than this are not trusted: the offset error is RTT / 2. */
export const MAX_SAMPLE_RTT_MS = 50;

export interface RedisClockOptions {
  /** How often the offset is sampled again. Default 10 s. */
  sampleEveryMs?: number;
  /** The local wall clock. */
  now?: () => number;
}

export class RedisClock {
  readonly #redis: Redis;
  readonly #now: () => number;
  readonly #timer: NodeJS.Timeout;
  #offsetMs: number | undefined;
  #sampling: Promise<void> | undefined;

  constructor(redis: Redis, options: RedisClockOptions = {}) {
    this.#redis = redis;
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
      const [seconds, micros] = await this.#redis.time();
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
