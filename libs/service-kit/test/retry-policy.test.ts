// Callback outcomes and backoff, case by case.
import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  classifyCallback,
  classifyHttpStep,
  parseRetryAfter,
  RateLimitedError,
  retryLater,
  RetryLaterError,
} from '@fortellis-admin/service-kit';

describe('classifyCallback', () => {
  it.each([
    [200, undefined, false, { kind: 'success' }],
    [204, undefined, false, { kind: 'success' }],
    [undefined, undefined, false, { kind: 'retry' }],
    [401, undefined, false, { kind: 'reauthenticate' }],
    [403, undefined, false, { kind: 'reauthenticate' }],
    [401, undefined, true, { kind: 'retry' }],
    [403, undefined, true, { kind: 'permanent' }],
    [408, undefined, false, { kind: 'retry' }],
    [429, '2', false, { kind: 'retry', retryAfterMs: 2000, rateLimited: true }],
    [429, undefined, false, { kind: 'retry', rateLimited: true }],
    [500, undefined, false, { kind: 'retry' }],
    [503, '1', false, { kind: 'retry', retryAfterMs: 1000 }],
    [400, undefined, false, { kind: 'permanent' }],
    [404, undefined, false, { kind: 'permanent' }],
    [409, undefined, false, { kind: 'permanent' }],
  ] as const)(
    'HTTP %s (Retry-After %s, reauthenticated %s) → %j',
    (status, retryAfter, reauthenticated, expected) => {
      expect(classifyCallback(status, retryAfter, reauthenticated)).toEqual(expected);
    },
  );
});

describe('a 429', () => {
  it("marks a step's retry as rate limited, and only a 429 does", () => {
    const rules = {
      isSuccess: (s: number) => s === 204,
      reauthenticateOn: [],
      reauthenticated: false,
    };
    expect(classifyHttpStep(429, '3', rules)).toEqual({
      kind: 'retry',
      retryAfterMs: 3000,
      rateLimited: true,
    });
    expect(classifyHttpStep(503, '3', rules)).toEqual({ kind: 'retry', retryAfterMs: 3000 });
  });

  it('retries as a rate limit (the queue pauses), anything else as a plain retry', () => {
    const limited = retryLater('callback answered 429', { retryAfterMs: 2000, rateLimited: true });
    expect(limited).toBeInstanceOf(RateLimitedError);
    expect(limited.retryAfterMs).toBe(2000);
    const plain = retryLater('callback answered 503', {});
    expect(plain).toBeInstanceOf(RetryLaterError);
    expect(plain).not.toBeInstanceOf(RateLimitedError);
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates, ignores nonsense', () => {
    const now = Date.parse('2026-11-23T12:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter('Mon, 23 Nov 2026 12:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });
});

describe('backoffDelay', () => {
  const settings = { baseMs: 1000, maxMs: 60_000 };

  it('doubles per attempt within [½, 1] of the step, capped', () => {
    expect(backoffDelay(1, settings, () => 1)).toBe(1000);
    expect(backoffDelay(1, settings, () => 0)).toBe(500);
    expect(backoffDelay(4, settings, () => 1)).toBe(8000);
    expect(backoffDelay(20, settings, () => 1)).toBe(60_000);
  });

  it('waits at least as long as Retry-After asks', () => {
    expect(backoffDelay(1, settings, () => 0, 2000)).toBe(2000);
    expect(backoffDelay(6, settings, () => 1, 2000)).toBe(32_000);
  });
});
