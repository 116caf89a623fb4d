// Runs one deprovision step under its lease, so it ends once in effect: take the lease (or learn
// the step has ended, or that another worker has it), perform the call, and record its end: done,
// failed (a refusal, or still failing past the retry horizon) or skipped; a transient failure gives
// the lease back and retries later, without repeating the steps that already ended. An ended call
// is recorded in the ledger beside the jobs before the database: an attempt whose database write
// failed is finished from there by the retry, which does not call again.
import type { AcquiredLease, DeprovisionStep, StepEnd } from '@fortellis-admin/connection-store';
import { AppError, ERROR_CODES } from '@fortellis-admin/contracts';
import {
  rememberCallEnd,
  retryLater,
  RetryLaterError,
  statusOf,
  type CallbackVerdict,
  type HttpAttempt,
  type JobContext,
  type Logger,
} from '@fortellis-admin/service-kit';
import type { DeprovisionUseCaseDeps, StepOutcome } from './deprovision-ports.ts';

/**
 * What performing a step gave: a reason to skip it, or an attempt and what to make of it, with
 * what may be kept of its answer should the step fail (`keptBody`: absent when the party's answer
 * may hold a secret, as the backend's may).
 */
export type Performed =
  { skipped: string } | { attempt: HttpAttempt; verdict: CallbackVerdict; keptBody?: string };

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

export type RunStep = (
  connectionId: string,
  step: DeprovisionStep,
  job: JobContext,
  log: Logger,
  perform: () => Promise<Performed>,
  chain?: StepChain,
) => Promise<StepRun>;

export function createStepRunner(deps: DeprovisionUseCaseDeps): RunStep {
  const { repo } = deps;
  const leaseMs = deps.settings.stepLeaseMs;

  /** What an earlier attempt left in the ledger; marks it abandoned if it left nothing. */
  function earlierOutcome(previousLeaseId: string): Promise<StepEnd | null> {
    return deps.ledger.outcomeOf<StepEnd>(previousLeaseId, { abandon: true });
  }

  /** Takes the step's lease, or says why there is nothing to run. */
  async function take(
    connectionId: string,
    step: DeprovisionStep,
  ): Promise<AcquiredLease | { finished: StepOutcome }> {
    const lease = await repo.acquireStepLease(connectionId, step, leaseMs);
    switch (lease.kind) {
      case 'unknown':
        throw new AppError(ERROR_CODES.notFound, `connection ${connectionId} is unknown`, {
          permanent: true,
        });
      case 'finished':
        return { finished: lease.record.status ?? 'failed' };
      case 'busy':
        throw new RetryLaterError(`${step} is being attempted by another worker`, leaseMs);
      case 'acquired':
        return lease;
    }
  }

  return async function runStep(connectionId, step, job, log, perform, chain = {}) {
    const lease = chain.lease ?? (await take(connectionId, step));
    if ('finished' in lease) return { outcome: lease.finished };
    const { leaseId } = lease;
    /** Writes the step's end, taking the next step's lease in the same write when there is one. */
    const complete = async (result: StepEnd): Promise<StepRun> => {
      if (result.status === 'failed') deps.recordGiveUp?.(step);
      if (chain.next === undefined) {
        await repo.completeStep(connectionId, step, leaseId, result);
        return { outcome: result.status };
      }
      const { nextLease } = await repo.completeStepThenLease(connectionId, step, leaseId, result, {
        step: chain.next,
        leaseMs,
      });
      return { outcome: result.status, ...(nextLease === null ? {} : { nextLease }) };
    };
    if (lease.previousLeaseId !== undefined) {
      const earlier = await earlierOutcome(lease.previousLeaseId);
      if (earlier !== null) {
        log.warn(
          { step, status: earlier.status },
          'step already attempted by an earlier attempt: recording its outcome, not calling again',
        );
        return complete(earlier);
      }
    }
    let performed: Performed;
    try {
      performed = await perform();
    } catch (error) {
      // A refusal that retrying cannot heal (the token endpoint refusing our client) ends the step
      // failed, visibly; anything else gives the lease back for the queue to retry.
      if (error instanceof AppError && error.permanent)
        return complete({ status: 'failed', error: (error as Error).message });
      await repo.releaseStepLease(connectionId, step, leaseId, {
        error: (error as Error).message,
      });
      throw error;
    }
    if ('skipped' in performed) {
      log.info({ step, note: performed.skipped }, 'step skipped');
      return complete({ status: 'skipped', note: performed.skipped });
    }
    const { attempt, verdict, keptBody } = performed;
    deps.recordCall?.(step === 'cleanup' ? 'backend' : 'status', verdict.kind);
    const status = statusOf(attempt);
    const failure = attempt.answered
      ? { httpStatus: attempt.status, ...(keptBody === undefined ? {} : { body: keptBody }) }
      : { error: attempt.error };
    log.info(
      { step, status, error: attempt.answered ? undefined : attempt.error, attempt: job.attempt },
      'step attempt',
    );
    /** Records the call's end in the ledger, then in the database (unless taken over). */
    const end = async (result: StepEnd): Promise<StepRun> => {
      if (await rememberCallEnd(deps.ledger, leaseId, result, log)) return complete(result);
      return { outcome: result.status };
    };
    switch (verdict.kind) {
      case 'success':
        return end({ status: 'done', ...(status === undefined ? {} : { httpStatus: status }) });
      case 'permanent':
      case 'reauthenticate':
        return end({ status: 'failed', ...failure });
      case 'retry': {
        const elapsed = deps.clock.now().getTime() - job.publishedAt.getTime();
        if (elapsed >= deps.settings.retryHorizonMs) {
          return end({
            status: 'failed',
            ...failure,
            note: `gave up after ${Math.round(elapsed / 1000)} s`,
          });
        }
        await repo.releaseStepLease(connectionId, step, leaseId, {
          ...(status === undefined ? {} : { status }),
          error: attempt.answered ? `HTTP ${attempt.status}` : attempt.error,
        });
        throw retryLater(`${step} answered ${status ?? 'nothing'}`, verdict);
      }
    }
  };
}
