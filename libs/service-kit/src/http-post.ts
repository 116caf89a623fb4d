// One outbound JSON POST with a timeout, reporting what happened instead of throwing: the answer
// (status, body, Retry-After) or the reason there was none. Used for every call to an outside party.
import { request } from 'undici';

export type HttpAttempt =
  | { answered: true; status: number; body: string; retryAfter?: string }
  | { answered: false; error: string };

export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string>,
  timeoutMs: number,
): Promise<HttpAttempt> {
  try {
    const response = await request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
      body: JSON.stringify(body),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const text = await response.body.text();
    const retryAfter = response.headers['retry-after'];
    return {
      answered: true,
      status: response.statusCode,
      body: text,
      ...(typeof retryAfter === 'string' ? { retryAfter } : {}),
    };
  } catch (error) {
    return {
      answered: false,
      error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
    };
  }
}

/**
 * An endpoint of the provider's backend (provisioning, clean-up): JSON posts with its shared
 * secret (`Authorization: Bearer`, or in the header the provider names) and an idempotency key.
 */
export class BackendEndpoint {
  readonly #url: string;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;

  constructor(options: {
    url: string;
    secret?: string | undefined;
    header?: string | undefined;
    timeoutMs: number;
  }) {
    this.#url = options.url;
    this.#timeoutMs = options.timeoutMs;
    this.#headers =
      options.secret === undefined
        ? {}
        : options.header === undefined
          ? { authorization: `Bearer ${options.secret}` }
          : { [options.header.toLowerCase()]: options.secret };
  }

  /** One attempt; the same key on every attempt for the same thing lets the backend do it once. */
  post(body: unknown, idempotencyKey: string): Promise<HttpAttempt> {
    return postJson(
      this.#url,
      body,
      { ...this.#headers, 'idempotency-key': idempotencyKey },
      this.#timeoutMs,
    );
  }
}

/** The HTTP status of an attempt, undefined when there was no answer. */
export function statusOf(attempt: HttpAttempt): number | undefined {
  return attempt.answered ? attempt.status : undefined;
}

/** The Retry-After of an attempt, if the answer had one. */
export function retryAfterOf(attempt: HttpAttempt): string | undefined {
  return attempt.answered ? attempt.retryAfter : undefined;
}

/** Anything that hands out bearer tokens and can forget a refused one. */
export interface TokenSource {
  token(): Promise<string>;
  invalidate(token: string): void;
}

/**
 * Makes one authenticated attempt; when `classify` says a fresh token may help, forgets the token,
 * takes a new one and tries once more at once. Returns the last attempt and its verdict.
 */
export async function attemptWithToken<V extends { kind: string }>(
  tokens: TokenSource,
  send: (token: string) => Promise<HttpAttempt>,
  classify: (attempt: HttpAttempt, reauthenticated: boolean) => V,
): Promise<{ attempt: HttpAttempt; verdict: V; reauthenticated: boolean }> {
  const token = await tokens.token();
  const attempt = await send(token);
  const verdict = classify(attempt, false);
  if (verdict.kind !== 'reauthenticate') return { attempt, verdict, reauthenticated: false };
  tokens.invalidate(token);
  const retried = await send(await tokens.token());
  return { attempt: retried, verdict: classify(retried, true), reauthenticated: true };
}
