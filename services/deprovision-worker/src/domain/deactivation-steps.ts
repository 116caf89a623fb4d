// The steps of a deactivation, in order: the backend clean-up, then the deactivation report; an
// activation report not yet sent is settled between them, so "deactivated" is the last word.
import type { AcquiredLease, ConnectionDocument, StepEnd } from '@fortellis-admin/connection-store';
import {
  earlierEnd,
  permanentFailure,
  RetryLaterError,
  type Logger,
} from '@fortellis-admin/service-kit/pure';
import type { JobContext } from '@fortellis-admin/service-kit/pure';
import { cleanUpAccount } from './clean-up-account.ts';
import type { DeprovisionResult, DeprovisionUseCaseDeps } from './deprovision-ports.ts';
import { reportStatus } from './report-status.ts';
import { runStep } from './run-step.ts';

/**
 * Clean-up then report; steps already ended are not repeated. A failed step fails the job. The
 * write that ends the clean-up takes the report's lease, unless an activation report must be
 * settled between them.
 */
export async function runDeactivationSteps(
  deps: DeprovisionUseCaseDeps,
  connection: ConnectionDocument,
  job: JobContext,
  log: Logger,
  cleanupLease?: AcquiredLease,
): Promise<DeprovisionResult> {
  const connectionId = connection.connectionId;
  const steps: DeprovisionResult['steps'] = {};
  const settles = deps.status?.reportActivations === true;
  const cleanup = await runStep(
    deps,
    { connectionId, step: 'cleanup', job, log },
    cleanUpAccount(deps, connection),
    { lease: cleanupLease, next: settles ? undefined : 'deactivationReport' },
  );
  steps.cleanup = cleanup.outcome;
  if (settles) await settleActivationReport(deps, connectionId);
  const reported = await runStep(
    deps,
    { connectionId, step: 'deactivationReport', job, log },
    reportStatus(deps, connection, 'deactivation'),
    { lease: cleanup.nextLease },
  );
  steps.deactivationReport = reported.outcome;
  const failed = Object.entries(steps)
    .filter(([, outcome]) => outcome === 'failed')
    .map(([step]) => step);
  // A failed step stays visible to operators in the queue's failed set; finished steps are kept.
  if (failed.length > 0) throw permanentFailure(`steps failed: ${failed.join(', ')}`);
  return { connectionId, steps };
}

/**
 * "Deactivated integration" must be the last word: an activation report not yet sent is skipped,
 * and one being sent right now is waited for.
 */
async function settleActivationReport(
  deps: DeprovisionUseCaseDeps,
  connectionId: string,
): Promise<void> {
  const leaseMs = deps.settings.stepLeaseMs;
  const slot = { call: 'step', step: 'activationReport' } as const;
  const lease = await deps.repo.acquireCallLease(connectionId, slot, leaseMs);
  if (lease.kind === 'unavailable' && lease.why === 'busy')
    throw new RetryLaterError(
      'the activation report is being sent: report the deactivation after it',
      leaseMs,
    );
  if (lease.kind !== 'acquired') return;
  // An earlier attempt that sent the report but could not write it is recorded, not skipped.
  const earlier = await earlierEnd<StepEnd>(deps.ledger, lease);
  await deps.repo.completeStep(
    connectionId,
    'activationReport',
    lease.leaseId,
    earlier ?? { status: 'skipped', note: 'deactivated before the activation was reported' },
  );
}
