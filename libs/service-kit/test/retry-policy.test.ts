// Callback outcomes and backoff, case by case.
import { describe, expect, it } from 'vitest';
import {
  backoffDelay,
  clampRetryAfter,
  CALLBACK_ANSWER_RULES,
  classifyHttpAnswer,
  createBackoffStrategy,
  createLogger,
  parseRetryAfter,
  pauseQueueOnRateLimit,
  RateLimitedError,
  retryLater,
  RetryLaterError,
} from '@fortellis-admin/service-kit';

describe('classifyHttpAnswer with the callback rules', () => {
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
      expect(
        classifyHttpAnswer(status, retryAfter, CALLBACK_ANSWER_RULES, reauthenticated),
      ).toEqual(expected);
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
    expect(classifyHttpAnswer(429, '3', rules)).toEqual({
      kind: 'retry',
      retryAfterMs: 3000,
      rateLimited: true,
    });
    expect(classifyHttpAnswer(503, '3', rules)).toEqual({ kind: 'retry', retryAfterMs: 3000 });
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

describe('a partner’s Retry-After', () => {
  const settings = { baseMs: 1000, maxMs: 60_000 };
  const now = Date.parse('2026-11-23T12:00:00Z');
  const asked = (value: string) => clampRetryAfter(parseRetryAfter(value, now) ?? 0, settings);

  it('is clamped to the backoff’s range: 0 and a past date wait the base, a day the longest delay', () => {
    expect(asked('0')).toBe(1000);
    expect(asked('Mon, 23 Nov 2026 11:00:00 GMT')).toBe(1000);
    expect(asked('86400')).toBe(60_000);
    expect(asked('Tue, 24 Nov 2026 12:00:00 GMT')).toBe(60_000);
    expect(asked('99999999999999999999999')).toBe(60_000);
    expect(asked('30')).toBe(30_000);
  });

  it('sets the retry’s delay within the range; the worker’s own wait is left as it is', () => {
    const strategy = createBackoffStrategy(settings, () => 1);
    expect(strategy(1, 'custom', retryLater('503', { retryAfterMs: 86_400_000 }))).toBe(60_000);
    expect(strategy(1, 'custom', retryLater('503', { retryAfterMs: 0 }))).toBe(1000);
    expect(strategy(1, 'custom', new RateLimitedError('429', 86_400_000))).toBe(60_000);
    // A lease that runs out in 90 s is waited for: it is not a partner's say.
    expect(strategy(1, 'custom', new RetryLaterError('lease held', 90_000))).toBe(90_000);
  });

  it('pauses the queue after a 429 for at most the longest delay, and at least the base', async () => {
    const pauses: number[] = [];
    const queue = { name: 'approval', rateLimit: async (ms: number) => void pauses.push(ms) };
    const logger = createLogger('test', 'silent');
    for (const retryAfterMs of [86_400_000, 0, undefined]) {
      const processor = pauseQueueOnRateLimit(
        async () => {
          throw new RateLimitedError('429', retryAfterMs);
        },
        queue,
        settings,
        logger,
      );
      await expect(
        processor({ id: 'j', name: 'n' } as Parameters<typeof processor>[0], 'token'),
      ).rejects.toThrow();
    }
    expect(pauses).toEqual([60_000, 1000, 1000]);
  });
});
