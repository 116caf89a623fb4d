// One outside call made under its lease, run the one way every worker runs it: an end an earlier
// attempt left in the ledger is written instead of calling again; otherwise the call is made and
// its answer classified; a transient failure gives the lease back and retries later, until the
// retry horizon, past which the call ends failed; an ended call is recorded in the ledger beside
// the jobs, then in the database. What differs between calls (the request, how its answer reads,
// what its end records, the writes) is passed in. Loads no driver or framework.
import { AppError, ERROR_CODES } from '@fortellis-admin/contracts';
import { setTimeout as delay } from 'node:timers/promises';
import { recordCallEnd, type CallOutcomeLedger } from './call-outcome-ledger.ts';
import type { HttpAttempt } from './http-attempt.ts';
import type { Logger } from './logger.ts';
import { retryLater, type HttpVerdict } from './retry-policy.ts';

/** A lease just taken, naming the expired lease of an earlier attempt that never ended. */
export interface CallLease {
  leaseId: string;
  previousLeaseId?: string | undefined;
}

/** How long a job goes on retrying a call: `limitMs` from `since` (when the job was published). */
export interface RetryHorizon {
  since: Date;
  limitMs: number;
  clock: { now(): Date };
}

/** How long the call has been retried, and whether that is past its horizon. */
export function horizonElapsed(horizon: RetryHorizon): { elapsedMs: number; passed: boolean } {
  const elapsedMs = horizon.clock.now().getTime() - horizon.since.getTime();
  return { elapsedMs, passed: elapsedMs >= horizon.limitMs };
}

/**
 * What an earlier attempt under `lease.previousLeaseId` recorded in the ledger, or null; an attempt
 * that recorded nothing is marked abandoned in the same step, so it cannot record later.
 */
export function earlierEnd<End extends object>(
  ledger: CallOutcomeLedger,
  lease: CallLease,
): Promise<End | null> {
  if (lease.previousLeaseId === undefined) return Promise.resolve(null);
  return ledger.outcomeOf<End>(lease.previousLeaseId, { abandon: true });
}

/** A call that was made: its last attempt and what to make of it, with what the caller adds. */
export interface CallAttempt {
  attempt: HttpAttempt;
  verdict: HttpVerdict;
}

/**
 * An end reached without calling (the call skipped, or its request impossible to build): written
 * to the database alone, since a retry may safely decide the same again.
 */
export interface EndedWithoutCall<End> {
  ended: End;
}

/** How a call that was made ended: answered as done, refused, or still failing past the horizon. */
export type CallEnding =
  { kind: 'success' } | { kind: 'refused' } | { kind: 'expired'; elapsedMs: number };

/** Where a call's end is kept beside the jobs, and what the call does with what it finds there. */
export interface LedgerOfCall<End, Result> {
  store: CallOutcomeLedger;
  /** Says that an earlier attempt's end was found, and is written instead of calling again. */
  foundEarlier(end: End): void;
  /** What the run returns when another worker took its lease over: its end is not written. */
  takenOver(end: End): Promise<Result>;
}

export interface LeasedCall<End extends object, Result, Made extends CallAttempt = CallAttempt> {
  lease: CallLease;
  /**
   * Absent for a call the party makes safe to repeat (an idempotency key): no earlier end is
   * looked up and none is recorded.
   */
  ledger?: LedgerOfCall<End, Result> | undefined;
  horizon: RetryHorizon;
  log: Pick<Logger, 'error' | 'warn'>;
  /** Makes the call (with its token, if any), counts and logs the attempt. */
  perform(): Promise<Made | EndedWithoutCall<End>>;
  /**
   * When `perform` threw (no call was made): the end to write (a refusal retrying cannot heal), or
   * the error the lease is given back with before the error is thrown again. Absent: thrown as is.
   */
  failedToCall?: (error: unknown) => EndedWithoutCall<End> | { release: string };
  /** The end of a call that was made. */
  endOf(made: Made, ending: CallEnding): End | Promise<End>;
  /** The message of the error that retries the job after a transient failure. */
  retryMessage(made: Made): string;
  /** Records a failed attempt and gives the lease back. */
  release(attempt: { status?: number; error: string }): Promise<void>;
  /** Writes the call's end in the database (and whatever follows from it). */
  complete(end: End): Promise<Result>;
}

/** Runs one leased call: see the file's header. */
export async function runLeasedCall<End extends object, Result, Made extends CallAttempt>(
  call: LeasedCall<End, Result, Made>,
): Promise<Result> {
  const { lease, ledger } = call;
  if (ledger !== undefined) {
    const earlier = await earlierEnd<End>(ledger.store, lease);
    if (earlier !== null) {
      ledger.foundEarlier(earlier);
      return call.complete(earlier);
    }
  }
  let made: Made | EndedWithoutCall<End>;
  try {
    made = await call.perform();
  } catch (error) {
    const failed = call.failedToCall?.(error);
    if (failed === undefined) throw error;
    if ('ended' in failed) return call.complete(failed.ended);
    await call.release({ error: failed.release });
    throw error;
  }
  if ('ended' in made) return call.complete(made.ended);
  const end = await endOfAnswer(call, made);
  // The call has ended: record that beside the jobs first, so a retry after a failed database
  // write finds it instead of calling again.
  if (ledger === undefined) return call.complete(end);
  const recorded = await recordCallEnd(ledger.store, lease.leaseId, end, call.log);
  if (recorded === 'taken-over') return ledger.takenOver(end);
  if (recorded === 'not-recorded') return completeUntilWritten(call, end);
  return call.complete(end);
}

/** How long the end of a call the ledger could not keep is written again (see below). */
export const END_WRITE_RETRY_MS = 30_000;

/**
 * Writes the end of a call the ledger could not keep. This process is then the only holder of
 * that end: a retry of the job would find none and make the call again. What kept the ledger from
 * confirming its entry (a Redis failover, its replicas not yet back) also holds up the database
 * write on FerretDB (its connection lock is in Redis), so the write is tried again, backing off
 * from 250 ms to 2 s, for up to {@link END_WRITE_RETRY_MS}, while the attempt's lease keeps other
 * workers from the call. The last failure is thrown.
 */
async function completeUntilWritten<End extends object, Result>(
  call: Pick<LeasedCall<End, Result>, 'complete' | 'log'>,
  end: End,
): Promise<Result> {
  const deadline = Date.now() + END_WRITE_RETRY_MS;
  for (let waitMs = 250; ; waitMs = Math.min(waitMs * 2, 2000)) {
    try {
      return await call.complete(end);
    } catch (error) {
      if (Date.now() + waitMs > deadline) throw error;
      call.log.warn(
        { err: { message: (error as Error).message }, retryInMs: waitMs },
        'the end of a call the ledger could not keep is not written yet: trying again',
      );
      await delay(waitMs);
    }
  }
}

/** The end of a call that was made; a transient failure within the horizon retries instead. */
async function endOfAnswer<End extends object, Result, Made extends CallAttempt>(
  call: LeasedCall<End, Result, Made>,
  made: Made,
): Promise<End> {
  const { attempt, verdict } = made;
  switch (verdict.kind) {
    case 'success':
      return call.endOf(made, { kind: 'success' });
    case 'permanent':
    case 'reauthenticate':
      return call.endOf(made, { kind: 'refused' });
    case 'retry': {
      const { elapsedMs, passed } = horizonElapsed(call.horizon);
      if (passed) return call.endOf(made, { kind: 'expired', elapsedMs });
      await call.release(
        attempt.answered
          ? { status: attempt.status, error: `HTTP ${attempt.status}` }
          : { error: attempt.error },
      );
      throw retryLater(call.retryMessage(made), verdict);
    }
  }
}

/** Retrying cannot change this: the job ends, failed, for operators to see. */
export function permanentFailure(message: string): AppError {
  return new AppError(ERROR_CODES.upstreamFailed, message, { permanent: true });
}
