// How the workers treat the answer of an outside party (the Fortellis callback, the provider's
// backend, the integration platform), and how long they wait before retrying. Pure.

/** What to do after one attempt of an outside call, from its HTTP answer (or its absence). */
export type HttpVerdict =
  | { kind: 'success' }
  /** Refresh the client-credentials token once and try again at once. */
  | { kind: 'reauthenticate' }
  /**
   * Try again later; `retryAfterMs` when the server said how long; `rateLimited` when it answered
   * 429, so the whole queue pauses rather than every worker trying again on its own.
   */
  | { kind: 'retry'; retryAfterMs?: number; rateLimited?: true }
  /** Retrying cannot help: the call has failed. */
  | { kind: 'permanent' };

/** How a party's answers read, where they differ from the plain rules (any 2xx is success). */
export interface HttpAnswerRules {
  /** Which statuses mean done; any 2xx when absent. */
  isSuccess?: (status: number) => boolean;
  /** Statuses after which a fresh token may help (tried once); none when absent. */
  reauthenticateOn?: readonly number[];
  /**
   * Of `reauthenticateOn`, the statuses retried later when a fresh token is refused again (the
   * identity service having a bad moment); the others are then permanent.
   */
  retryWhenStillRefused?: readonly number[];
}

/**
 * The Fortellis callback's answers: 401 and 403 ask for a fresh token; still refused with it, 401
 * may be the identity service having a bad moment (retried), 403 is a considered refusal.
 */
export const CALLBACK_ANSWER_RULES: HttpAnswerRules = {
  reauthenticateOn: [401, 403],
  retryWhenStillRefused: [401],
};

const is2xx = (status: number) => status >= 200 && status < 300;

/**
 * Classifies the answer of an outside call (status undefined: a network error or timeout): success
 * by `rules.isSuccess`; a fresh token once on `rules.reauthenticateOn`; retry on no answer, 408,
 * 429 (with its Retry-After) and 5xx; anything else is permanent.
 */
export function classifyHttpAnswer(
  status: number | undefined,
  retryAfter: string | undefined,
  rules: HttpAnswerRules = {},
  reauthenticated = false,
): HttpVerdict {
  if (status === undefined) return { kind: 'retry' };
  if ((rules.isSuccess ?? is2xx)(status)) return { kind: 'success' };
  if (rules.reauthenticateOn?.includes(status) === true) {
    if (!reauthenticated) return { kind: 'reauthenticate' };
    if (rules.retryWhenStillRefused?.includes(status) === true) return { kind: 'retry' };
  }
  if (status === 408 || status === 429 || status >= 500)
    return retryAfterAnswer(status, retryAfter);
  return { kind: 'permanent' };
}

/** The retry verdict of an answer that asks for one: its Retry-After, and whether it was a 429. */
function retryAfterAnswer(status: number, retryAfter: string | undefined): HttpVerdict {
  const retryAfterMs = parseRetryAfter(retryAfter);
  return {
    kind: 'retry',
    ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    ...(status === 429 ? { rateLimited: true as const } : {}),
  };
}

/**
 * Thrown by a processor to make BullMQ retry later, after at least `retryAfterMs` when given: the
 * worker's own wait (a lease to run out), or, when `fromPartner`, the Retry-After a partner asked
 * for, which the backoff clamps to its range ({@link clampRetryAfter}).
 */
export class RetryLaterError extends Error {
  readonly retryAfterMs: number | undefined;
  /** True when `retryAfterMs` is what an outside party asked for: it is clamped, not trusted. */
  readonly fromPartner: boolean;

  constructor(message: string, retryAfterMs?: number, options: { fromPartner?: boolean } = {}) {
    super(message);
    this.name = 'RetryLaterError';
    this.retryAfterMs = retryAfterMs;
    this.fromPartner = options.fromPartner ?? false;
  }
}

/**
 * The party answered 429: the worker pauses its whole queue for `retryAfterMs` clamped to the
 * backoff's range (the backoff's base without one), and the job goes back to wait without
 * counting an attempt.
 */
export class RateLimitedError extends RetryLaterError {
  constructor(message: string, retryAfterMs?: number) {
    super(message, retryAfterMs, { fromPartner: true });
    this.name = 'RateLimitedError';
  }
}

/** The error that retries a job after a `retry` verdict: rate-limited after a 429. */
export function retryLater(
  message: string,
  verdict: { retryAfterMs?: number; rateLimited?: true },
): RetryLaterError {
  return verdict.rateLimited === true
    ? new RateLimitedError(message, verdict.retryAfterMs)
    : new RetryLaterError(message, verdict.retryAfterMs, { fromPartner: true });
}

/**
 * A partner's Retry-After, made sane: at least the backoff's base (a `0` or a date in the past
 * does not make a retry loop), at most its longest delay (a day from now does not stop the queue,
 * and with it the reconciler and every other partner's work, for a day).
 */
export function clampRetryAfter(retryAfterMs: number, settings: BackoffSettings): number {
  return Math.min(settings.maxMs, Math.max(settings.baseMs, retryAfterMs));
}

/**
 * The delay a RetryLaterError asks for: a partner's clamped to the backoff's range, the worker's
 * own as it is. Undefined for any other error.
 */
export function askedDelay(error: unknown, settings: BackoffSettings): number | undefined {
  if (!(error instanceof RetryLaterError) || error.retryAfterMs === undefined) return undefined;
  return error.fromPartner ? clampRetryAfter(error.retryAfterMs, settings) : error.retryAfterMs;
}

/**
 * A BullMQ backoff strategy: exponential with jitter, or the delay asked for when longer (a
 * partner's Retry-After clamped to the backoff's range).
 */
export function createBackoffStrategy(
  settings: BackoffSettings,
  random: () => number = Math.random,
) {
  return (attemptsMade: number, _type?: string, error?: Error): number =>
    backoffDelay(attemptsMade, settings, random, askedDelay(error, settings));
}

/** `Retry-After` as delay-seconds or an HTTP date; undefined when absent or unreadable. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

export interface BackoffSettings {
  baseMs: number;
  maxMs: number;
}

/**
 * Exponential backoff with full jitter in [½, 1] of the step: attempt 1 waits about `baseMs`, each
 * later attempt twice as long, capped at `maxMs`. A delay asked for (`retryAfterMs`, clamped by
 * the caller when a partner asked it) wins when it is longer.
 */
export function backoffDelay(
  attempt: number,
  settings: BackoffSettings,
  random: () => number,
  retryAfterMs?: number,
): number {
  const step = Math.min(settings.maxMs, settings.baseMs * 2 ** Math.max(0, attempt - 1));
  const jittered = Math.round(step * (0.5 + random() / 2));
  return retryAfterMs === undefined ? jittered : Math.max(jittered, retryAfterMs);
}
