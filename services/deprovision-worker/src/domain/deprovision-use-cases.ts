// The deprovision worker's use cases, one per job: a deactivation (record it, clean up, report),
// an accepted connection (report the activation, when configured), and an operator's retry of the
// steps that failed. Each step runs once in effect (run-step.ts); a failed step fails the job.
import {
  jobIdFor,
  type ConnectionAcceptedJob,
  type DeactivationReceivedJob,
  type RetryRequestedJob,
  type StalledConnectionFoundJob,
} from '@fortellis-admin/contracts';
import { getOrThrow, stepsFailedBefore } from '@fortellis-admin/connection-store';
import {
  permanentFailure,
  reconcileStalled,
  RetryLaterError,
  type Logger,
} from '@fortellis-admin/service-kit/pure';
import type { JobContext } from '@fortellis-admin/service-kit/pure';
import { runDeactivationSteps } from './deactivation-steps.ts';
import type { DeprovisionResult, DeprovisionUseCaseDeps } from './deprovision-ports.ts';
import { reportStatus } from './report-status.ts';
import { runStep } from './run-step.ts';

/** The jobs that move a deactivated connection on in the deprovision queue, when live. */
export function deprovisionJobIdsOf(connectionId: string): string[] {
  return [jobIdFor.deactivationReceived({ connectionId })];
}

/** Records the deactivation (taking the clean-up's lease in the same write), then runs the steps. */
export async function handleDeactivation(
  deps: DeprovisionUseCaseDeps,
  data: DeactivationReceivedJob,
  job: JobContext,
  log: Logger,
): Promise<DeprovisionResult> {
  const { connection, changed, cleanupLease } = await deps.repo.recordDeactivation(
    data.connectionId,
    { requestId: data.requestId, receivedAt: new Date(data.receivedAt) },
    { cleanupLeaseMs: deps.settings.stepLeaseMs },
  );
  log.info({ tombstone: connection.tombstone === true, changed }, 'deactivation recorded');
  return runDeactivationSteps(deps, connection, job, log, cleanupLease);
}

/** Reports an acceptance to the integration platform, when activations are reported. */
export async function handleAccepted(
  deps: DeprovisionUseCaseDeps,
  data: ConnectionAcceptedJob,
  job: JobContext,
  log: Logger,
): Promise<DeprovisionResult> {
  if (deps.status?.reportActivations !== true)
    return { connectionId: data.connectionId, steps: {} };
  const connection = await getOrThrow(deps.repo, data.connectionId);
  // The approval worker announces an acknowledged acceptance just before it records it.
  if (connection.state === 'approved')
    throw new RetryLaterError('the acceptance is announced but not recorded yet', 1000);
  const { outcome } = await runStep(
    deps,
    { connectionId: data.connectionId, step: 'activationReport', job, log },
    reportStatus(deps, connection, 'activation'),
  );
  if (outcome === 'failed') throw permanentFailure('activation report failed');
  return { connectionId: data.connectionId, steps: { activationReport: outcome } };
}

/** An operator's retry: the failed steps are reopened, and the steps run again. */
export async function handleRetry(
  deps: DeprovisionUseCaseDeps,
  data: RetryRequestedJob,
  job: JobContext,
  log: Logger,
): Promise<DeprovisionResult> {
  const connection = await getOrThrow(deps.repo, data.connectionId);
  if (connection.state !== 'deactivated')
    return { connectionId: connection.connectionId, steps: {} };
  // The operator's request was published first; the failed steps are reopened here.
  if (stepsFailedBefore(connection, new Date(data.requestedAt)).length > 0)
    await deps.repo.reopenFailedSteps(data.connectionId, data.actor);
  log.info({ actor: data.actor }, 'retrying deprovision steps');
  return runDeactivationSteps(deps, connection, job, log);
}

/** A deactivation the reconciler found stalled: its steps run again. */
export async function handleStalledConnection(
  deps: DeprovisionUseCaseDeps,
  data: StalledConnectionFoundJob,
  job: JobContext,
  log: Logger,
): Promise<DeprovisionResult> {
  const connection = await getOrThrow(deps.repo, data.connectionId);
  if (connection.state !== 'deactivated')
    return { connectionId: connection.connectionId, steps: {} };
  log.info('moving a stalled deactivation on');
  return runDeactivationSteps(deps, connection, job, log);
}

/** The reconciler's run: publishes the deactivations that stalled. */
export function handleReconciliation(
  deps: DeprovisionUseCaseDeps,
  log: Logger,
): Promise<{ found: number; published: number }> {
  return reconcileStalled(
    {
      findStalled: (since, limit) => deps.repo.findStalled('deprovision', since, limit),
      liveJobIdsOf: deprovisionJobIdsOf,
      jobs: deps.reconcilerJobs,
      clock: deps.clock,
      settings: deps.settings.reconcile,
    },
    log,
  );
}
