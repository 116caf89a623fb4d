// What the publisher knows of the connected Redis's durability: asked once per connection (each
// may be to another server), remembered until the next, and said loudly when it falls short.
import { checkAckDurability, type AckDurability, type DurabilityState } from './ack-durability.ts';
import type { Logger } from './logger.ts';
import type { RedisClient } from './redis-connection.ts';

/** Asks the connected Redis whether it gives acknowledged jobs the durability asked for. */
export class AckDurabilityGate {
  readonly #redis: RedisClient;
  readonly #durability: AckDurability;
  readonly #logger: Logger | undefined;
  #state: DurabilityState = 'unchecked';
  #check: Promise<void> | undefined;

  constructor(redis: RedisClient, durability: AckDurability, logger: Logger | undefined) {
    this.#redis = redis;
    this.#durability = durability;
    this.#logger = logger;
  }

  /** The answer of the connected Redis; `unchecked` until it was asked. */
  get state(): DurabilityState {
    return this.#state;
  }

  /** Forgets the answer: the connection was made again, maybe to another server. */
  forget(): void {
    this.#state = 'unchecked';
  }

  /** Asks the connected Redis, unless it was asked since the connection was made. */
  async ensureChecked(): Promise<void> {
    if (this.#state !== 'unchecked') return;
    this.#check ??= checkAckDurability(this.#redis, this.#durability)
      .then((state) => {
        this.#state = state;
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
      .finally(() => (this.#check = undefined));
    await this.#check;
  }
}
