// The leased-call protocol alone, with an in-memory ledger and recording writes.
import { describe, expect, it } from 'vitest';
import { AppError, ERROR_CODES } from '@fortellis-admin/contracts';
import { MemoryCallOutcomeLedger } from '@fortellis-admin/test-support/doubles';
import type { HttpAttempt } from './http-post.ts';
import {
  runLeasedCall,
  type CallAttempt,
  type CallEnding,
  type LeasedCall,
} from './leased-call.ts';
import { classifyHttpAnswer, RateLimitedError, RetryLaterError } from './retry-policy.ts';

interface End {
  outcome: string;
  status?: number;
}

const silent = { error: () => undefined, warn: () => undefined };

function answered(status: number, retryAfter?: string): CallAttempt {
  const attempt: HttpAttempt = {
    answered: true,
    status,
    body: '',
    ...(retryAfter === undefined ? {} : { retryAfter }),
  };
  return { attempt, verdict: classifyHttpAnswer(status, retryAfter) };
}

/** A call whose writes are recorded; `elapsedMs` is how long the job has been retried. */
function leasedCall(
  made: () => Promise<CallAttempt | { ended: End }>,
  options: { ledger?: MemoryCallOutcomeLedger; previousLeaseId?: string; elapsedMs?: number } = {},
) {
  const writes: string[] = [];
  const since = new Date('2026-12-01T00:00:00Z');
  const call: LeasedCall<End, string> = {
    lease: {
      leaseId: 'lease-2',
      ...(options.previousLeaseId === undefined
        ? {}
        : { previousLeaseId: options.previousLeaseId }),
    },
    ...(options.ledger === undefined
      ? {}
      : {
          ledger: {
            store: options.ledger,
            foundEarlier: (end: End) => writes.push(`found ${end.outcome}`),
            takenOver: async (end: End) => `taken over (${end.outcome})`,
          },
        }),
    horizon: {
      since,
      limitMs: 60_000,
      clock: { now: () => new Date(since.getTime() + (options.elapsedMs ?? 0)) },
    },
    log: silent,
    perform: made,
    failedToCall: (error) =>
      error instanceof AppError && error.permanent
        ? { ended: { outcome: 'refused client' } }
        : { release: (error as Error).message },
    endOf: ({ attempt }, ending: CallEnding) => ({
      outcome: ending.kind,
      ...(attempt.answered ? { status: attempt.status } : {}),
    }),
    retryMessage: ({ attempt }) => `answered ${attempt.answered ? attempt.status : 'nothing'}`,
    release: async (attempt) => {
      writes.push(`release ${JSON.stringify(attempt)}`);
    },
    complete: async (end) => {
      writes.push(`complete ${end.outcome}`);
      return `completed ${end.outcome}`;
    },
  };
  return { call, writes };
}

describe('runLeasedCall', () => {
  it('records an answered call in the ledger, then in the database', async () => {
    const ledger = new MemoryCallOutcomeLedger();
    const { call, writes } = leasedCall(async () => answered(201), { ledger });
    expect(await runLeasedCall(call)).toBe('completed success');
    expect(writes).toEqual(['complete success']);
    expect(ledger.entries.get('lease-2')).toEqual({ outcome: 'success', status: 201 });
  });

  it("writes an earlier attempt's end instead of calling again", async () => {
    const ledger = new MemoryCallOutcomeLedger();
    await ledger.record('lease-1', { outcome: 'success', status: 200 });
    const { call, writes } = leasedCall(
      async () => {
        throw new Error('must not call');
      },
      { ledger, previousLeaseId: 'lease-1' },
    );
    expect(await runLeasedCall(call)).toBe('completed success');
    expect(writes).toEqual(['found success', 'complete success']);
  });

  it('marks an earlier attempt that recorded nothing abandoned, and calls', async () => {
    const ledger = new MemoryCallOutcomeLedger();
    const { call } = leasedCall(async () => answered(200), { ledger, previousLeaseId: 'lease-1' });
    await runLeasedCall(call);
    expect(ledger.entries.get('lease-1')).toBe('abandoned');
  });

  it('leaves the end unwritten when another worker took the lease over', async () => {
    const ledger = new MemoryCallOutcomeLedger();
    await ledger.outcomeOf('lease-2', { abandon: true });
    const { call, writes } = leasedCall(async () => answered(200), { ledger });
    expect(await runLeasedCall(call)).toBe('taken over (success)');
    expect(writes).toEqual([]);
  });

  it('gives the lease back and retries a transient failure within the horizon', async () => {
    const { call, writes } = leasedCall(async () => answered(429, '3'), { elapsedMs: 59_999 });
    const error = await runLeasedCall(call).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(RateLimitedError);
    expect((error as RateLimitedError).message).toBe('answered 429');
    expect(writes).toEqual(['release {"status":429,"error":"HTTP 429"}']);
  });

  it('ends a call still failing past the horizon', async () => {
    const { call, writes } = leasedCall(async () => answered(503), { elapsedMs: 60_000 });
    expect(await runLeasedCall(call)).toBe('completed expired');
    expect(writes).toEqual(['complete expired']);
  });

  it('ends a refused call at once', async () => {
    const ledger = new MemoryCallOutcomeLedger();
    const { call } = leasedCall(async () => answered(400), { ledger });
    expect(await runLeasedCall(call)).toBe('completed refused');
    expect(ledger.entries.get('lease-2')).toEqual({ outcome: 'refused', status: 400 });
  });

  it('writes an end reached without calling to the database alone', async () => {
    const ledger = new MemoryCallOutcomeLedger();
    const { call, writes } = leasedCall(async () => ({ ended: { outcome: 'skipped' } }), {
      ledger,
    });
    expect(await runLeasedCall(call)).toBe('completed skipped');
    expect(writes).toEqual(['complete skipped']);
    expect(ledger.entries.size).toBe(0);
  });

  it('ends a call that could not be made for good, or gives its lease back', async () => {
    const refused = leasedCall(async () => {
      throw new AppError(ERROR_CODES.upstreamFailed, 'no', { permanent: true });
    });
    expect(await runLeasedCall(refused.call)).toBe('completed refused client');
    const failing = leasedCall(async () => {
      throw new RetryLaterError('token endpoint down');
    });
    await expect(runLeasedCall(failing.call)).rejects.toThrow('token endpoint down');
    expect(failing.writes).toEqual(['release {"error":"token endpoint down"}']);
  });

  it('writes again the end of a call the ledger could not keep, until the database takes it', async () => {
    // The ledger's replicas do not confirm (a Redis failover): only this process knows the end.
    const unreachable = new MemoryCallOutcomeLedger();
    unreachable.record = () => Promise.reject(new Error('too few Redis replicas'));
    const { call, writes } = leasedCall(async () => answered(200), { ledger: unreachable });
    let failures = 2;
    call.complete = async (end) => {
      if (failures-- > 0) {
        writes.push('complete failed');
        throw new Error('cannot be locked: too few Redis replicas');
      }
      writes.push(`complete ${end.outcome}`);
      return `completed ${end.outcome}`;
    };
    expect(await runLeasedCall(call)).toBe('completed success');
    expect(writes).toEqual(['complete failed', 'complete failed', 'complete success']);
  });

  it('does not write again when the ledger kept the end: a retry of the job finds it', async () => {
    const ledger = new MemoryCallOutcomeLedger();
    const { call } = leasedCall(async () => answered(200), { ledger });
    let completes = 0;
    call.complete = () => {
      completes += 1;
      return Promise.reject(new Error('MongoDB unreachable'));
    };
    await expect(runLeasedCall(call)).rejects.toThrow('MongoDB unreachable');
    expect(completes).toBe(1);
    expect(ledger.entries.get('lease-2')).toEqual({ outcome: 'success', status: 200 });
  });
});
