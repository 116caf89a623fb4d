// OAuth client-credentials tokens (Fortellis identity, the integration platform's IdP): cached
// until shortly before expiry, one refresh in flight at a time, invalidated when refused. The
// answer is read with the same size cap as every outside answer.
import { request } from 'undici';
import { AppError, ERROR_CODES } from '@fortellis-admin/contracts';
import { MAX_ANSWER_BYTES, readCappedBody, tooLargeError } from './answer-body.ts';

export interface TokenClientOptions {
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  /** Sent as `scope` when given (Fortellis requires `anonymous`; the integration platform none). */
  scope?: string;
  timeoutMs: number;
  now?: () => number;
  /** Renew this long before expiry. Default 60 s. */
  marginMs?: number;
  /** The largest answer read. Default {@link MAX_ANSWER_BYTES}. */
  maxAnswerBytes?: number;
}

interface CachedToken {
  value: string;
  expiresAt: number;
}

export class ClientCredentialsTokenClient {
  readonly #options: TokenClientOptions;
  readonly #now: () => number;
  #cached: CachedToken | undefined;
  #inFlight: Promise<string> | undefined;
  #requests = 0;

  constructor(options: TokenClientOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
  }

  /** Token requests made so far. */
  get requests(): number {
    return this.#requests;
  }

  /** A valid access token, from the cache or freshly requested (one request at a time). */
  async token(): Promise<string> {
    const margin = this.#options.marginMs ?? 60_000;
    if (this.#cached !== undefined && this.#cached.expiresAt - margin > this.#now())
      return this.#cached.value;
    this.#inFlight ??= this.#fetch().finally(() => {
      this.#inFlight = undefined;
    });
    return this.#inFlight;
  }

  /** Forgets `token` if it is the cached one, so the next call fetches a new one. */
  invalidate(token: string): void {
    if (this.#cached?.value === token) this.#cached = undefined;
  }

  async #fetch(): Promise<string> {
    this.#requests += 1;
    const basic = Buffer.from(
      `${encodeURIComponent(this.#options.clientId)}:${encodeURIComponent(this.#options.clientSecret)}`,
    ).toString('base64');
    let response;
    try {
      response = await request(this.#options.tokenUrl, {
        method: 'POST',
        headers: {
          authorization: `Basic ${basic}`,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        // `scope` only when given: `anonymous` is Fortellis's scope, unknown to other identity servers.
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          ...(this.#options.scope === undefined ? {} : { scope: this.#options.scope }),
        }).toString(),
        headersTimeout: this.#options.timeoutMs,
        bodyTimeout: this.#options.timeoutMs,
      });
    } catch (error) {
      throw new AppError(ERROR_CODES.upstreamFailed, 'token endpoint unreachable', {
        cause: error,
      });
    }
    const read = await readCappedBody(
      response.body,
      response.headers['content-length'],
      this.#options.maxAnswerBytes ?? MAX_ANSWER_BYTES,
    ).catch((error: unknown) => {
      throw new AppError(ERROR_CODES.upstreamFailed, 'token endpoint answer broke off', {
        cause: error,
      });
    });
    // Too large to be a token: no usable answer, retried like a broken connection.
    if ('tooLarge' in read)
      throw new AppError(
        ERROR_CODES.upstreamFailed,
        tooLargeError(response.statusCode, read.limit),
      );
    if (response.statusCode !== 200) {
      // A refused client is a configuration problem retrying will not fix; anything else may pass.
      throw new AppError(
        ERROR_CODES.upstreamFailed,
        `token endpoint answered ${response.statusCode}`,
        {
          permanent: response.statusCode === 400 || response.statusCode === 401,
        },
      );
    }
    let body: { access_token?: unknown; expires_in?: unknown } | null;
    try {
      body = JSON.parse(read.text) as typeof body;
    } catch {
      throw new AppError(ERROR_CODES.upstreamFailed, 'token endpoint answered 200 without JSON');
    }
    if (typeof body?.access_token !== 'string')
      throw new AppError(
        ERROR_CODES.upstreamFailed,
        'token endpoint answered without access_token',
      );
    const lifetime = typeof body.expires_in === 'number' ? body.expires_in : 3600;
    this.#cached = { value: body.access_token, expiresAt: this.#now() + lifetime * 1000 };
    return body.access_token;
  }
}
