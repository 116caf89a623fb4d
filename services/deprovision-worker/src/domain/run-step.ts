// Runs one deprovision step under its lease, so it ends once in effect (the leased-call protocol:
// libs/service-kit/src/leased-call.ts): take the lease (or learn the step has ended, or that another
// worker has it), perform the call, and record its end: done, failed (a refusal, or still failing
// past the retry horizon) or skipped; a transient failure gives the lease back and retries later,
// without repeating the steps that already ended. An ended call is recorded in the ledger beside
// the jobs before the database: an attempt whose database write failed is finished from there by
// the retry, which does not call again.
import {
  unknownConnection,
  type AcquiredLease,
  type CallSlot,
  type DeprovisionStep,
  type StepEnd,
} from '@fortellis-admin/connection-store';
import { AppError } from '@fortellis-admin/contracts';
import {
  RetryLaterError,
  runLeasedCall,
  statusOf,
  type CallAttempt,
  type CallEnding,
  type Logger,
} from '@fortellis-admin/service-kit/pure';
import type { JobContext } from '@fortellis-admin/service-kit/pure';
import type { DeprovisionUseCaseDeps, StepOutcome } from './deprovision-ports.ts';

/** A step's call that was made, with what may be kept of its answer should the step fail. */
export interface StepCall extends CallAttempt {
  /** Absent when the party's answer may hold a secret, as the backend's may. */
  keptBody?: string;
}

/** What performing a step gave: a reason to skip it, or the call made. */
export type Performed = { skipped: string } | StepCall;

/**
 * `lease`: the step's lease, when the write before took it. `next`: the step that follows, whose
 * lease the write that ends this one takes as well when it can (one write instead of two).
 */
export interface StepChain {
  lease?: AcquiredLease | undefined;
  next?: DeprovisionStep | undefined;
}

/** How the step ended, and the next step's lease when its end took it. */
export interface StepRun {
  outcome: StepOutcome;
  nextLease?: AcquiredLease | undefined;
}

/** One step of one connection, as a job runs it. */
export interface StepJob {
  connectionId: string;
  step: DeprovisionStep;
  job: JobContext;
  log: Logger;
}

/** Runs `step` under its lease with `perform` as its call; see the file's header. */
export async function runStep(
  deps: DeprovisionUseCaseDeps,
  { connectionId, step, job, log }: StepJob,
  perform: () => Promise<Performed>,
  chain: StepChain = {},
): Promise<StepRun> {
  const slot: CallSlot = { call: 'step', step };
  const lease = chain.lease ?? (await takeStepLease(deps, connectionId, slot));
  if ('finished' in lease) return { outcome: lease.finished };
  return runLeasedCall<StepEnd, StepRun, StepCall>({
    lease,
    ledger: {
      store: deps.ledger,
      foundEarlier: (earlier) =>
        log.warn(
          { step, status: earlier.status },
          'step already attempted by an earlier attempt: recording its outcome, not calling again',
        ),
      takenOver: async (end) => ({ outcome: end.status }),
    },
    horizon: { since: job.publishedAt, limitMs: deps.settings.retryHorizonMs, clock: deps.clock },
    log,
    perform: async () => {
      const performed = await perform();
      if ('skipped' in performed) {
        log.info({ step, note: performed.skipped }, 'step skipped');
        return { ended: { status: 'skipped', note: performed.skipped } };
      }
      const { attempt, verdict } = performed;
      deps.recordCall?.(step === 'cleanup' ? 'backend' : 'status', verdict.kind);
      log.info(
        {
          step,
          status: statusOf(attempt),
          error: attempt.answered ? undefined : attempt.error,
          attempt: job.attempt,
        },
        'step attempt',
      );
      return performed;
    },
    // A refusal that retrying cannot heal (the token endpoint refusing our client) ends the step
    // failed, visibly; anything else gives the lease back for the queue to retry.
    failedToCall: (error) =>
      error instanceof AppError && error.permanent
        ? { ended: { status: 'failed', error: error.message } }
        : { release: (error as Error).message },
    endOf: stepEndOf,
    retryMessage: ({ attempt }) => `${step} answered ${statusOf(attempt) ?? 'nothing'}`,
    release: (attempt) => deps.repo.releaseCallLease(connectionId, slot, lease.leaseId, attempt),
    complete: (end) => completeStep(deps, connectionId, step, lease.leaseId, end, chain.next),
  });
}

/** Takes the step's lease, or says why there is nothing to run. */
async function takeStepLease(
  deps: DeprovisionUseCaseDeps,
  connectionId: string,
  slot: CallSlot & { call: 'step' },
): Promise<AcquiredLease | { finished: StepOutcome }> {
  const leaseMs = deps.settings.stepLeaseMs;
  const lease = await deps.repo.acquireCallLease(connectionId, slot, leaseMs);
  if (lease.kind === 'acquired') return lease;
  switch (lease.why) {
    case 'unknown':
      throw unknownConnection(connectionId);
    case 'finished':
      return { finished: lease.connection.steps?.[slot.step]?.status ?? 'failed' };
    // A step's lease is never refused for a state (a deactivation is final): were it, the retry
    // looks again, as it does after another worker's lease.
    case 'moved-on':
    case 'busy':
      throw new RetryLaterError(`${slot.step} is being attempted by another worker`, leaseMs);
  }
}

/** How a step's call ended: done, or failed with what may be kept of the answer. */
function stepEndOf({ attempt, keptBody }: StepCall, ending: CallEnding): StepEnd {
  const failure = attempt.answered
    ? { httpStatus: attempt.status, ...(keptBody === undefined ? {} : { body: keptBody }) }
    : { error: attempt.error };
  switch (ending.kind) {
    case 'success':
      return { status: 'done', ...(attempt.answered ? { httpStatus: attempt.status } : {}) };
    case 'refused':
      return { status: 'failed', ...failure };
    case 'expired':
      return {
        status: 'failed',
        ...failure,
        note: `gave up after ${Math.round(ending.elapsedMs / 1000)} s`,
      };
  }
}

/** Writes the step's end, taking the next step's lease in the same write when there is one. */
async function completeStep(
  deps: DeprovisionUseCaseDeps,
  connectionId: string,
  step: DeprovisionStep,
  leaseId: string,
  result: StepEnd,
  next: DeprovisionStep | undefined,
): Promise<StepRun> {
  if (result.status === 'failed') deps.recordGiveUp?.(step);
  if (next === undefined) {
    await deps.repo.completeStep(connectionId, step, leaseId, result);
    return { outcome: result.status };
  }
  const { nextLease } = await deps.repo.completeStepThenLease(connectionId, step, leaseId, result, {
    step: next,
    leaseMs: deps.settings.stepLeaseMs,
  });
  return { outcome: result.status, ...(nextLease === null ? {} : { nextLease }) };
}
