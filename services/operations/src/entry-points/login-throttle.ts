// The brakes on the login form, per client address, counted by @fastify/rate-limit (in Redis when
// given one, so every replica counts the same attempts): at most LOGIN_ATTEMPTS_PER_MINUTE
// attempts a minute; and after LOGIN_FAILURES_BEFORE_LOCKOUT failed ones within
// LOGIN_LOCKOUT_MS, the address is locked out, the right token included, until it has left the
// form alone for LOGIN_LOCKOUT_MS (each attempt while refused starts that wait again). While the
// counters cannot be reached, logins are refused (503): the brakes never silently come off.
import rateLimit, { normalizeIP } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Cluster, Redis } from 'ioredis';
import { AppError, ERROR_CODES } from '@fortellis-admin/contracts';

export const LOGIN_ATTEMPTS_PER_MINUTE = 20;
export const LOGIN_FAILURES_BEFORE_LOCKOUT = 10;
export const LOGIN_LOCKOUT_MS = 15 * 60 * 1000;

/** Where the counters live: Redis (shared by the replicas) under `<keyPrefix>:ops-login:`. */
export interface LoginThrottleStore {
  redis: Redis | Cluster;
  keyPrefix: string;
}

/** Registers the plugin (no route limited by default); without a store, counts in memory. */
export async function registerLoginThrottle(
  app: FastifyInstance,
  store: LoginThrottleStore | undefined,
): Promise<void> {
  await app.register(rateLimit, {
    global: false,
    // A client that keeps trying while refused keeps being refused for the whole window.
    continueExceeding: true,
    ...(store === undefined
      ? {}
      : { redis: store.redis, nameSpace: `${store.keyPrefix}:ops-login:` }),
  });
}

/** Why a login is refused before its token is looked at, and when to try again. */
export interface LoginRefusal {
  error: AppError;
  /** 429 (too many, locked out) or 503 (the counters cannot be reached). */
  status: 429 | 503;
  retryAfterSeconds: number;
}

export interface LoginThrottle {
  /** Counts an attempt: the refusal (429) when the address tries too often or is locked out. */
  admit(request: FastifyRequest): Promise<LoginRefusal | undefined>;
  /** Counts a failed attempt: the lockout (429) when it is one too many. */
  failed(request: FastifyRequest): Promise<LoginRefusal | undefined>;
}

function refusal(code: 'tooManyLogins' | 'loginLockedOut', seconds: number): LoginRefusal {
  const message =
    code === 'tooManyLogins'
      ? `Too many login attempts from your address: try again in ${seconds} s.`
      : `Too many failed logins from your address: locked out, try again in ${Math.ceil(seconds / 60)} min.`;
  return {
    error: new AppError(ERROR_CODES[code], message, { httpStatus: 429 }),
    status: 429,
    retryAfterSeconds: seconds,
  };
}

const UNAVAILABLE_RETRY_SECONDS = 5;

function unavailable(cause: unknown): LoginRefusal {
  const error = new AppError(
    ERROR_CODES.queueUnavailable,
    'Logging in is unavailable while its attempt counters cannot be reached: try again shortly.',
    { httpStatus: 503, cause },
  );
  return {
    error,
    status: 503,
    retryAfterSeconds: UNAVAILABLE_RETRY_SECONDS,
  };
}

/** Runs a count; a store that cannot be reached refuses the login rather than skip the count. */
async function counted(
  count: () => Promise<LoginRefusal | undefined>,
): Promise<LoginRefusal | undefined> {
  try {
    return await count();
  } catch (error) {
    return unavailable(error);
  }
}

export function createLoginThrottle(app: FastifyInstance): LoginThrottle {
  const address = (request: FastifyRequest) => normalizeIP(request.ip);
  const attempts = app.createRateLimit({
    max: LOGIN_ATTEMPTS_PER_MINUTE,
    timeWindow: 60_000,
    keyGenerator: (request) => `attempts|${address(request)}`,
  });
  const failures = app.createRateLimit({
    max: LOGIN_FAILURES_BEFORE_LOCKOUT,
    timeWindow: LOGIN_LOCKOUT_MS,
    keyGenerator: (request) => `failures|${address(request)}`,
  });
  return {
    admit: (request) =>
      counted(async () => {
        const attempt = await attempts(request);
        if (!attempt.isAllowed && attempt.isExceeded)
          return refusal('tooManyLogins', attempt.ttlInSeconds);
        const failed = await failures(request, { increment: false });
        if (failed.isAllowed || !failed.isExceeded) return undefined;
        // Trying while locked out starts the wait again.
        const again = await failures(request);
        return refusal(
          'loginLockedOut',
          again.isAllowed ? LOGIN_LOCKOUT_MS / 1000 : again.ttlInSeconds,
        );
      }),
    failed: (request) =>
      counted(async () => {
        const failed = await failures(request);
        return !failed.isAllowed && failed.isExceeded
          ? refusal('loginLockedOut', failed.ttlInSeconds)
          : undefined;
      }),
  };
}
