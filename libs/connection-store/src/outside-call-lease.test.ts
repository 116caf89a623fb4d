// The one lease, without a database: when it may be taken, and the updates that take, release and
// end it, for the callback and a deprovision step alike.
import { describe, expect, it } from 'vitest';
import {
  acquireLease,
  completeLease,
  holdsLease,
  KEPT_PROBLEM_CHARS,
  KEPT_PROBLEMS,
  KEPT_RESPONSE_CHARS,
  leaseIsLive,
  releaseLease,
  reopenedFields,
} from './outside-call-lease.ts';

const now = new Date('2026-11-25T10:00:00Z');
const later = (ms: number) => new Date(now.getTime() + ms);

describe('the outside-call lease', () => {
  it('is live until it expires, and only its holder holds it', () => {
    expect(leaseIsLive(undefined, now)).toBe(false);
    expect(leaseIsLive({ leaseUntil: later(1) }, now)).toBe(true);
    expect(leaseIsLive({ leaseUntil: now }, now)).toBe(false);
    expect(leaseIsLive({ leaseUntil: later(-1) }, now)).toBe(false);
    expect(holdsLease({ leaseId: 'a' }, 'a')).toBe(true);
    expect(holdsLease({ leaseId: 'a' }, 'b')).toBe(false);
    expect(holdsLease(undefined, 'a')).toBe(false);
  });

  it('taking it counts the attempt and stamps its start and expiry, at any path', () => {
    for (const path of ['callback', 'steps.cleanup']) {
      expect(
        acquireLease(path, { leaseId: 'L', now, leaseMs: 5000 }, { [`${path}.x`]: 1 }),
      ).toEqual({
        $set: {
          [`${path}.x`]: 1,
          [`${path}.leaseUntil`]: later(5000),
          [`${path}.leaseId`]: 'L',
          [`${path}.lastAttemptAt`]: now,
          updatedAt: now,
        },
        $inc: { [`${path}.attempts`]: 1, version: 1 },
      });
    }
  });

  it('giving it back records the failed attempt, in the record and the history, and drops the lease', () => {
    const failed = { event: 'cleanup_attempt_failed', by: 'deprovision-worker' };
    expect(releaseLease('steps.cleanup', { status: 503, error: 'HTTP 503' }, now, failed)).toEqual({
      $set: {
        'steps.cleanup.lastError': 'HTTP 503',
        'steps.cleanup.lastStatus': 503,
        updatedAt: now,
      },
      $unset: { 'steps.cleanup.leaseUntil': '', 'steps.cleanup.leaseId': '' },
      $inc: { version: 1 },
      $push: {
        history: {
          at: now,
          event: 'cleanup_attempt_failed',
          by: 'deprovision-worker',
          detail: 'HTTP 503',
        },
      },
    });
    const timedOut = releaseLease('callback', { error: 'timeout' }, now, failed);
    expect(timedOut.$set).not.toHaveProperty('callback.lastStatus');
    expect(timedOut.$push).toMatchObject({ history: { detail: 'timeout' } });
  });

  it('giving it back after the same failure again counts it into the earlier entry, in place', () => {
    const failed = { event: 'cleanup_attempt_failed', by: 'deprovision-worker' };
    const earlier = { at: later(-5000), ...failed, detail: 'HTTP 429' };
    const history = [{ at: later(-9000), event: 'deactivated', by: 'deprovision-worker' }, earlier];
    const update = releaseLease(
      'steps.cleanup',
      { status: 429, error: 'HTTP 429' },
      now,
      failed,
      history,
    );
    expect(update).not.toHaveProperty('$push');
    expect(update.$set).toMatchObject({ 'history.1': { ...earlier, count: 2, lastAt: now } });
  });

  it('ending it keeps what a failed call was answered, cut to a bounded size', () => {
    const body = 'x'.repeat(KEPT_RESPONSE_CHARS + 10);
    const update = completeLease('callback', { httpStatus: 400, body, failed: true }, now, {
      state: 'callback_failed',
    });
    expect(update.$set).toMatchObject({
      state: 'callback_failed',
      'callback.completedAt': now,
      'callback.lastStatus': 400,
      'callback.response': { status: 400, body: body.slice(0, KEPT_RESPONSE_CHARS) },
    });
    expect(update.$unset).toEqual({ 'callback.leaseUntil': '', 'callback.leaseId': '' });
    expect(update).not.toHaveProperty('$push');
  });

  it('ending it on a broken answer keeps only its problems, bounded, and never its body', () => {
    const problems = Array.from({ length: KEPT_PROBLEMS + 5 }, (_, n) => ({
      pointer: `/credentials/k${n}`,
      message: n === 0 ? 'y'.repeat(KEPT_PROBLEM_CHARS + 50) : 'must be string',
    }));
    const update = completeLease(
      'provisioning',
      { httpStatus: 200, body: 'secret', problems, failed: true },
      now,
      {},
    );
    const kept = (update.$set as Record<string, { status: number; problems: unknown[] }>)[
      'provisioning.response'
    ];
    expect(kept).toEqual({
      status: 200,
      problems: [
        { pointer: '/credentials/k0', message: `${'y'.repeat(KEPT_PROBLEM_CHARS)}…` },
        ...problems.slice(1, KEPT_PROBLEMS),
        { pointer: '', message: 'and 5 more problems' },
      ],
    });
  });

  it('ending it on an answer whose body may not be kept keeps its status alone', () => {
    const update = completeLease('steps.cleanup', { httpStatus: 409, failed: true }, now, {});
    expect(update.$set).toMatchObject({ 'steps.cleanup.response': { status: 409 } });
    expect(update.$set).not.toHaveProperty('steps.cleanup.response.body');
  });

  it('ending it successfully keeps no response, and records history when given', () => {
    const entry = { at: now, event: 'cleanup_done', by: 'deprovision-worker' };
    const update = completeLease(
      'steps.cleanup',
      { httpStatus: 200, failed: false },
      now,
      {},
      entry,
    );
    expect(update.$set).not.toHaveProperty('steps.cleanup.response');
    expect(update.$push).toEqual({ history: entry });
  });

  it('reopening clears the outcome and the answer, keeping the attempts', () => {
    expect(reopenedFields('steps.cleanup', 'status')).toEqual([
      'steps.cleanup.status',
      'steps.cleanup.completedAt',
      'steps.cleanup.response',
    ]);
  });
});
