// The Fortellis signing keys, fetched from the remote JWKS and kept: refreshed in the background,
// refreshed once (rate-limited) when a token names an unknown kid, and kept serving when the JWKS
// host is down. With no key loaded yet, verification answers "keys unavailable" (503), and calls
// trigger a fetch at most once per cooldown, whatever they carry.
import {
  createLocalJWKSet,
  type JSONWebKeySet,
  type JWSHeaderParameters,
  type FlattenedJWSInput,
} from 'jose';
import { request } from 'undici';
import { AppError, ERROR_CODES } from '@fortellis-admin/contracts';
import { readCappedBody, type Logger } from '@fortellis-admin/service-kit';

export interface JwksKeyStoreOptions {
  url: string;
  logger: Logger;
  now?: () => number;
  /** Per-fetch timeout. Default 2000 ms. */
  timeoutMs?: number;
  /** Background refresh period. Default 10 min. */
  maxAgeMs?: number;
  /**
   * Minimum time between two refreshes triggered by calls (an unknown kid, or no keys loaded yet).
   * Default 10 s.
   */
  cooldownMs?: number;
  /** Retry period while no key has ever been loaded. Default 5 s. */
  initialRetryMs?: number;
  /** Told of each fetch: whether it loaded the keys (for the metrics). */
  onFetch?: (loaded: boolean) => void;
}

type KeyResolver = ReturnType<typeof createLocalJWKSet>;

export class JwksKeyStore {
  readonly #options: Required<Omit<JwksKeyStoreOptions, 'logger' | 'now' | 'onFetch'>>;
  readonly #onFetch: ((loaded: boolean) => void) | undefined;
  readonly #logger: Logger;
  readonly #now: () => number;
  #resolver: KeyResolver | undefined;
  #kids = new Set<string>();
  /** When a call last caused a refresh; background and start-up loads do not count. */
  #lastCallRefreshAt = Number.NEGATIVE_INFINITY;
  #inFlight: Promise<boolean> | undefined;
  #timer: NodeJS.Timeout | undefined;
  #fetches = 0;

  constructor(options: JwksKeyStoreOptions) {
    this.#logger = options.logger;
    this.#onFetch = options.onFetch;
    this.#now = options.now ?? Date.now;
    this.#options = {
      url: options.url,
      timeoutMs: options.timeoutMs ?? 2000,
      maxAgeMs: options.maxAgeMs ?? 600_000,
      cooldownMs: options.cooldownMs ?? 10_000,
      initialRetryMs: options.initialRetryMs ?? 5000,
    };
  }

  /** True once a key set has been loaded (it is then kept, whatever the JWKS host does). */
  get loaded(): boolean {
    return this.#resolver !== undefined;
  }

  /** Number of JWKS fetches attempted so far. */
  get fetches(): number {
    return this.#fetches;
  }

  /** Loads the keys once and keeps them fresh in the background until `stop()`. */
  async start(): Promise<void> {
    await this.refresh();
    this.#schedule();
  }

  stop(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Fetches the key set now; concurrent callers share one fetch. Resolves true when the keys were
   * replaced, false when the fetch failed (the previous keys stay in use).
   */
  refresh(): Promise<boolean> {
    this.#inFlight ??= this.#fetch().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  /** The key resolver jose's `jwtVerify` calls with the token's protected header. */
  readonly getKey = async (header: JWSHeaderParameters, token: FlattenedJWSInput) => {
    // No keys yet (the first fetch failed, or the JWKS had none), or a kid we do not hold (usually
    // a rotation at Fortellis): look, but at most once per cooldown, so a flood of forged tokens
    // cannot turn into a flood of JWKS fetches. The background retry keeps looking on its own.
    if (this.#resolver === undefined || (header.kid !== undefined && !this.#kids.has(header.kid)))
      await this.#refreshForCall();
    if (this.#resolver === undefined) {
      throw new AppError(ERROR_CODES.keysUnavailable, 'signing keys are not available yet', {
        httpStatus: 503,
      });
    }
    return this.#resolver(header, token);
  };

  /** Joins a fetch in flight, or starts one if none was started by a call within the cooldown. */
  async #refreshForCall(): Promise<void> {
    if (this.#inFlight !== undefined) {
      await this.#inFlight;
      return;
    }
    const now = this.#now();
    if (now - this.#lastCallRefreshAt < this.#options.cooldownMs) return;
    this.#lastCallRefreshAt = now;
    await this.refresh();
  }

  async #fetch(): Promise<boolean> {
    this.#fetches += 1;
    try {
      const response = await request(this.#options.url, {
        method: 'GET',
        headers: { accept: 'application/json' },
        headersTimeout: this.#options.timeoutMs,
        bodyTimeout: this.#options.timeoutMs,
      });
      if (response.statusCode !== 200) {
        await response.body.dump();
        throw new Error(`JWKS answered ${response.statusCode}`);
      }
      // Read with the cap of every outside answer: a JWKS host answering megabytes costs no memory.
      const body = await readCappedBody(response.body, response.headers['content-length']);
      if (!('text' in body)) throw new Error(`JWKS answer exceeds ${body.limit} bytes`);
      const jwks = JSON.parse(body.text) as JSONWebKeySet;
      if (!Array.isArray(jwks.keys)) throw new Error('JWKS has no keys array');
      // An empty set verifies nothing: it counts as a failed fetch (the keys held are kept).
      if (jwks.keys.length === 0) throw new Error('JWKS has no keys');
      const resolver = createLocalJWKSet(jwks);
      this.#resolver = resolver;
      this.#kids = new Set(
        jwks.keys.map((key) => key.kid).filter((kid): kid is string => typeof kid === 'string'),
      );
      this.#logger.info({ kids: [...this.#kids] }, 'JWKS loaded');
      this.#onFetch?.(true);
      return true;
    } catch (error) {
      this.#logger.warn(
        {
          err: error instanceof Error ? { message: error.message } : String(error),
          keptKeys: this.loaded,
        },
        'JWKS fetch failed',
      );
      this.#onFetch?.(false);
      return false;
    }
  }

  #schedule(): void {
    const delay = this.loaded ? this.#options.maxAgeMs : this.#options.initialRetryMs;
    this.#timer = setTimeout(() => {
      void this.refresh().finally(() => this.#schedule());
    }, delay);
    this.#timer.unref();
  }
}
