// Runs one deprovision step under its lease, so it ends once in effect: take the lease (or learn
// the step has ended, or that another worker has it), perform the call, and record its end: done,
// failed (a refusal, or still failing past the retry horizon) or skipped; a transient failure gives
// the lease back and retries later, without repeating the steps that already ended.
import type { DeprovisionStep } from '@fortellis-admin/connection-store';
import { AppError, ERROR_CODES } from '@fortellis-admin/contracts';
import {
  RetryLaterError,
  statusOf,
  type CallbackVerdict,
  type HttpAttempt,
  type JobContext,
  type Logger,
} from '@fortellis-admin/service-kit';
import type { DeprovisionUseCaseDeps, StepOutcome } from './deprovision-ports.ts';

/** What performing a step gave: a reason to skip it, or an attempt and what to make of it. */
export type Performed = { skipped: string } | { attempt: HttpAttempt; verdict: CallbackVerdict };

export type RunStep = (
  connectionId: string,
  step: DeprovisionStep,
  job: JobContext,
  log: Logger,
  perform: () => Promise<Performed>,
) => Promise<StepOutcome>;

export function createStepRunner(deps: DeprovisionUseCaseDeps): RunStep {
  const { repo } = deps;
  const leaseMs = deps.settings.httpTimeoutMs + 5000;

  return async function runStep(connectionId, step, job, log, perform) {
    const lease = await repo.acquireStepLease(connectionId, step, leaseMs);
    switch (lease.kind) {
      case 'unknown':
        throw new AppError(ERROR_CODES.notFound, `connection ${connectionId} is unknown`, {
          permanent: true,
        });
      case 'finished':
        return lease.record.status ?? 'failed';
      case 'busy':
        throw new RetryLaterError(`${step} is being attempted by another worker`, leaseMs);
      case 'acquired':
        break;
    }
    let performed: Performed;
    try {
      performed = await perform();
    } catch (error) {
      // A refusal that retrying cannot heal (the token endpoint refusing our client) ends the step
      // failed, visibly; anything else gives the lease back for the queue to retry.
      if (error instanceof AppError && error.permanent) {
        await repo.completeStep(connectionId, step, lease.leaseId, {
          status: 'failed',
          error: (error as Error).message,
        });
        return 'failed';
      }
      await repo.releaseStepLease(connectionId, step, lease.leaseId, {
        error: (error as Error).message,
      });
      throw error;
    }
    if ('skipped' in performed) {
      await repo.completeStep(connectionId, step, lease.leaseId, {
        status: 'skipped',
        note: performed.skipped,
      });
      log.info({ step, note: performed.skipped }, 'step skipped');
      return 'skipped';
    }
    const { attempt, verdict } = performed;
    deps.recordCall?.(step === 'cleanup' ? 'backend' : 'status', verdict.kind);
    const status = statusOf(attempt);
    const failure = attempt.answered
      ? { httpStatus: attempt.status, body: attempt.body }
      : { error: attempt.error };
    log.info(
      { step, status, error: attempt.answered ? undefined : attempt.error, attempt: job.attempt },
      'step attempt',
    );
    switch (verdict.kind) {
      case 'success':
        await repo.completeStep(connectionId, step, lease.leaseId, {
          status: 'done',
          ...(status === undefined ? {} : { httpStatus: status }),
        });
        return 'done';
      case 'permanent':
      case 'reauthenticate':
        await repo.completeStep(connectionId, step, lease.leaseId, {
          status: 'failed',
          ...failure,
        });
        return 'failed';
      case 'retry': {
        const elapsed = deps.clock.now().getTime() - job.publishedAt.getTime();
        if (elapsed >= deps.settings.retryHorizonMs) {
          await repo.completeStep(connectionId, step, lease.leaseId, {
            status: 'failed',
            ...failure,
            note: `gave up after ${Math.round(elapsed / 1000)} s`,
          });
          return 'failed';
        }
        await repo.releaseStepLease(connectionId, step, lease.leaseId, {
          ...(status === undefined ? {} : { status }),
          error: attempt.answered ? `HTTP ${attempt.status}` : attempt.error,
        });
        throw new RetryLaterError(`${step} answered ${status ?? 'nothing'}`, verdict.retryAfterMs);
      }
    }
  };
}
