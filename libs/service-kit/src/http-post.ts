// One outbound JSON POST with a timeout, reporting what happened instead of throwing: the answer
// (status, body, Retry-After) or the reason there was none. Used for every call to an outside party.
// The body is read with a size cap: a larger one is no usable answer (a failed attempt, retried
// like a connection that broke mid-answer), never a memory spike.
import { request } from 'undici';
import { MAX_ANSWER_BYTES, readCappedBody, tooLargeError } from './answer-body.ts';
import type { HttpAttempt } from './http-attempt.ts';

// What postJson returns, for the callers that import it from here.
export type { HttpAttempt } from './http-attempt.ts';

export async function postJson(
  url: string,
  body: unknown,
  headers: Record<string, string>,
  timeoutMs: number,
  maxAnswerBytes: number = MAX_ANSWER_BYTES,
): Promise<HttpAttempt> {
  try {
    const response = await request(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', ...headers },
      body: JSON.stringify(body),
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
    });
    const read = await readCappedBody(
      response.body,
      response.headers['content-length'],
      maxAnswerBytes,
    );
    if ('tooLarge' in read)
      return { answered: false, error: tooLargeError(response.statusCode, read.limit) };
    const retryAfter = response.headers['retry-after'];
    return {
      answered: true,
      status: response.statusCode,
      body: read.text,
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
