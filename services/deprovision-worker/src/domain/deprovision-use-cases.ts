// The deprovision worker's use cases, one per job: a deactivation (record it, clean up, report),
// an accepted connection (report the activation, when configured), and an operator's retry of the
// steps that failed. Each step runs once in effect (run-step.ts); a failed step fails the job.
import {
  AppError,
  ERROR_CODES,
  jobIdFor,
  type ConnectionAcceptedJob,
  type DeactivationReceivedJob,
  type RetryRequestedJob,
  type StalledConnectionFoundJob,
} from '@fortellis-admin/contracts';
import {
  provisioningAttempted,
  provisioningInFlightUntil,
  stepsFailedBefore,
  wasAccepted,
  type AcquiredLease,
  type ConnectionDocument,
  type StepEnd,
} from '@fortellis-admin/connection-store';
import {
  attemptWithToken,
  classifyHttpStep,
  redactedBody,
  retryAfterOf,
  reconcileStalled,
  RetryLaterError,
  statusOf,
  type JobContext,
  type Logger,
} from '@fortellis-admin/service-kit';
import type { DeprovisionResult, DeprovisionUseCaseDeps } from './deprovision-ports.ts';
import { backendRequest, neverActivated, statusReport } from './deprovision-plan.ts';
import { createStepRunner, type Performed } from './run-step.ts';

export interface DeprovisionUseCases {
  handleDeactivation(
    data: DeactivationReceivedJob,
    job: JobContext,
    log: Logger,
  ): Promise<DeprovisionResult>;
  handleAccepted(
    data: ConnectionAcceptedJob,
    job: JobContext,
    log: Logger,
  ): Promise<DeprovisionResult>;
  handleRetry(data: RetryRequestedJob, job: JobContext, log: Logger): Promise<DeprovisionResult>;
  handleStalledConnection(
    data: StalledConnectionFoundJob,
    job: JobContext,
    log: Logger,
  ): Promise<DeprovisionResult>;
  handleReconciliation(log: Logger): Promise<{ found: number; published: number }>;
}

/** The jobs that move a deactivated connection on in the deprovision queue, when live. */
export function deprovisionJobIdsOf(connectionId: string): string[] {
  return [jobIdFor.deactivationReceived({ connectionId })];
}

const is2xx = (status: number) => status >= 200 && status < 300;

export function createDeprovisionUseCases(deps: DeprovisionUseCaseDeps): DeprovisionUseCases {
  const { repo } = deps;
  const runStep = createStepRunner(deps);
  const leaseMs = deps.settings.stepLeaseMs;

  function cleanUp(connection: ConnectionDocument): () => Promise<Performed> {
    return async () => {
      if (deps.deprovisioner.kind === 'none')
        return { skipped: 'BACKEND_DEPROVISIONER is none: no backend accounts to clean up' };
      if (neverActivated(connection))
        return { skipped: 'never activated: nothing was provisioned' };
      // An account provisioned for a connection whose callback then failed (or that was
      // deactivated while provisioning) is removed as well.
      if (!wasAccepted(connection) && !provisioningAttempted(connection))
        return { skipped: 'never accepted: the buyer never had the API, nothing was provisioned' };
      const inFlight = provisioningInFlightUntil(connection, deps.clock.now());
      if (inFlight !== null)
        throw new RetryLaterError(
          'the account is still being provisioned: cleaning up once that call has ended',
          inFlight.getTime() - deps.clock.now().getTime(),
        );
      const attempt = await deps.deprovisioner.deprovision(backendRequest(connection));
      if (attempt === undefined) return { skipped: 'the deprovisioner has nothing to call' };
      // No `keptBody`: the backend's answer may hold the account's credentials.
      return {
        attempt,
        verdict: classifyHttpStep(statusOf(attempt), retryAfterOf(attempt), {
          isSuccess: is2xx,
          reauthenticateOn: [],
          reauthenticated: false,
        }),
      };
    };
  }

  function report(
    connection: ConnectionDocument,
    kind: 'deactivation' | 'activation',
  ): () => Promise<Performed> {
    return async () => {
      const status = deps.status;
      if (status === undefined)
        return { skipped: 'INTEGRATION_STATUS_BASE_URL is not set: not reported' };
      if (neverActivated(connection)) return { skipped: 'never activated: nothing to report' };
      if (!wasAccepted(connection))
        return { skipped: 'never accepted: no integration was activated' };
      const body = statusReport(kind, status);
      const { attempt, verdict, sentWith } = await attemptWithToken(
        status.client.tokens,
        (token) => status.client.report(body, token),
        (answer, reauthenticated) =>
          classifyHttpStep(statusOf(answer), retryAfterOf(answer), {
            isSuccess: (s) => s === 204,
            reauthenticateOn: [401],
            reauthenticated,
          }),
      );
      // The status API is sent no secret but its token: its answer is kept without the token.
      return {
        attempt,
        verdict,
        ...(attempt.answered ? { keptBody: redactedBody(attempt.body, sentWith) } : {}),
      };
    };
  }

  /**
   * Clean-up then report; steps already ended are not repeated. A failed step fails the job. The
   * write that ends the clean-up takes the report's lease, unless an activation report must be
   * settled between them.
   */
  async function runDeactivationSteps(
    connection: ConnectionDocument,
    job: JobContext,
    log: Logger,
    cleanupLease?: AcquiredLease,
  ): Promise<DeprovisionResult> {
    const connectionId = connection.connectionId;
    const steps: DeprovisionResult['steps'] = {};
    const settles = deps.status?.reportActivations === true;
    const cleanup = await runStep(connectionId, 'cleanup', job, log, cleanUp(connection), {
      lease: cleanupLease,
      next: settles ? undefined : 'deactivationReport',
    });
    steps.cleanup = cleanup.outcome;
    if (settles) await settleActivationReport(connectionId);
    const reported = await runStep(
      connectionId,
      'deactivationReport',
      job,
      log,
      report(connection, 'deactivation'),
      { lease: cleanup.nextLease },
    );
    steps.deactivationReport = reported.outcome;
    const failed = Object.entries(steps)
      .filter(([, outcome]) => outcome === 'failed')
      .map(([step]) => step);
    // A failed step stays visible to operators in the queue's failed set; finished steps are kept.
    if (failed.length > 0) throw permanent(`steps failed: ${failed.join(', ')}`);
    return { connectionId, steps };
  }

  /**
   * "Deactivated integration" must be the last word: an activation report not yet sent is skipped,
   * and one being sent right now is waited for.
   */
  async function settleActivationReport(connectionId: string): Promise<void> {
    const lease = await repo.acquireStepLease(connectionId, 'activationReport', leaseMs);
    if (lease.kind === 'busy')
      throw new RetryLaterError(
        'the activation report is being sent: report the deactivation after it',
        leaseMs,
      );
    if (lease.kind !== 'acquired') return;
    // An earlier attempt that sent the report but could not write it is recorded, not skipped.
    const earlier =
      lease.previousLeaseId === undefined
        ? null
        : await deps.ledger.outcomeOf<StepEnd>(lease.previousLeaseId, { abandon: true });
    await repo.completeStep(
      connectionId,
      'activationReport',
      lease.leaseId,
      earlier ?? { status: 'skipped', note: 'deactivated before the activation was reported' },
    );
  }

  async function known(connectionId: string): Promise<ConnectionDocument> {
    const connection = await repo.get(connectionId);
    if (connection === null)
      throw new AppError(ERROR_CODES.notFound, `connection ${connectionId} is unknown`, {
        permanent: true,
      });
    return connection;
  }

  return {
    async handleDeactivation(data, job, log) {
      const { connection, changed, cleanupLease } = await repo.recordDeactivation(
        data.connectionId,
        { requestId: data.requestId, receivedAt: new Date(data.receivedAt) },
        { cleanupLeaseMs: leaseMs },
      );
      log.info({ tombstone: connection.tombstone === true, changed }, 'deactivation recorded');
      return runDeactivationSteps(connection, job, log, cleanupLease);
    },

    async handleAccepted(data, job, log) {
      if (deps.status?.reportActivations !== true)
        return { connectionId: data.connectionId, steps: {} };
      const connection = await known(data.connectionId);
      // The approval worker announces an acknowledged acceptance just before it records it.
      if (connection.state === 'approved')
        throw new RetryLaterError('the acceptance is announced but not recorded yet', 1000);
      const { outcome } = await runStep(
        data.connectionId,
        'activationReport',
        job,
        log,
        report(connection, 'activation'),
      );
      if (outcome === 'failed') throw permanent('activation report failed');
      return { connectionId: data.connectionId, steps: { activationReport: outcome } };
    },

    async handleRetry(data, job, log) {
      const connection = await known(data.connectionId);
      if (connection.state !== 'deactivated')
        return { connectionId: connection.connectionId, steps: {} };
      // The operator's request was published first; the failed steps are reopened here.
      if (stepsFailedBefore(connection, new Date(data.requestedAt)).length > 0)
        await repo.reopenFailedSteps(data.connectionId, data.actor);
      log.info({ actor: data.actor }, 'retrying deprovision steps');
      return runDeactivationSteps(connection, job, log);
    },

    async handleStalledConnection(data, job, log) {
      const connection = await known(data.connectionId);
      if (connection.state !== 'deactivated')
        return { connectionId: connection.connectionId, steps: {} };
      log.info('moving a stalled deactivation on');
      return runDeactivationSteps(connection, job, log);
    },

    handleReconciliation(log) {
      return reconcileStalled(
        {
          findStalled: (since, limit) => repo.findStalled('deprovision', since, limit),
          liveJobIdsOf: deprovisionJobIdsOf,
          jobs: deps.reconcilerJobs,
          clock: deps.clock,
          settings: deps.settings.reconcile,
        },
        log,
      );
    },
  };
}

function permanent(message: string): AppError {
  return new AppError(ERROR_CODES.upstreamFailed, message, { permanent: true });
}
