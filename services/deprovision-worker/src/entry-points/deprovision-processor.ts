// The deprovision worker's job processor: DeactivationReceived (record, clean up, report) and
// ConnectionAccepted (report the activation when configured). Each step ends once in effect and
// retries on its own: a failing report never repeats a finished clean-up.
import { UnrecoverableError, type Job } from 'bullmq';
import { contracts, JOB_NAMES } from '@fortellis-admin/contracts';
import { type Logger } from '@fortellis-admin/service-kit';
import {
  attemptWithToken,
  classifyHttpStep,
  parseJobData,
  RetryLaterError,
  retryAfterOf,
  statusOf,
  type CallbackVerdict,
  type HttpAttempt,
  type OutsideCallRecorder,
} from '@fortellis-admin/service-kit';
import {
  type ConnectionDocument,
  type ConnectionRepository,
  type DeprovisionStep,
} from '@fortellis-admin/connection-store';
import type { AccountDeprovisioner } from '../data-access/account-deprovisioner.ts';
import type { IntegrationStatusClient } from '../data-access/integration-status-client.ts';
import {
  backendRequest,
  neverActivated,
  statusReport,
  type StatusReportSettings,
} from '../domain/deprovision-plan.ts';

export interface StatusReporting extends StatusReportSettings {
  client: Pick<IntegrationStatusClient, 'report' | 'tokens'>;
  reportActivations: boolean;
}

export interface DeprovisionProcessorDeps {
  repo: ConnectionRepository;
  deprovisioner: AccountDeprovisioner;
  /** Absent when the integration status API is not configured. */
  status: StatusReporting | undefined;
  logger: Logger;
  clock: { now(): Date };
  settings: { retryHorizonMs: number; httpTimeoutMs: number };
  /** Counts each backend and status-report attempt by outcome, when metrics are collected. */
  recordCall?: OutsideCallRecorder;
}

type StepOutcome = 'done' | 'failed' | 'skipped';
type Performed = { skipped: string } | { attempt: HttpAttempt; verdict: CallbackVerdict };

export interface DeprovisionResult {
  connectionId: string;
  steps: Partial<Record<DeprovisionStep, StepOutcome>>;
}

const is2xx = (status: number) => status >= 200 && status < 300;

export function createDeprovisionProcessor(deps: DeprovisionProcessorDeps) {
  const { repo } = deps;
  const leaseMs = deps.settings.httpTimeoutMs + 5000;

  async function runStep(
    connectionId: string,
    step: DeprovisionStep,
    job: Job,
    log: Logger,
    perform: () => Promise<Performed>,
  ): Promise<StepOutcome> {
    const lease = await repo.acquireStepLease(connectionId, step, leaseMs);
    switch (lease.kind) {
      case 'unknown':
        throw new UnrecoverableError(`connection ${connectionId} is unknown`);
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
      {
        step,
        status,
        error: attempt.answered ? undefined : attempt.error,
        attempt: job.attemptsMade + 1,
      },
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
        const elapsed = deps.clock.now().getTime() - job.timestamp;
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
  }

  function cleanUp(connection: ConnectionDocument): () => Promise<Performed> {
    return async () => {
      if (deps.deprovisioner.kind === 'none')
        return { skipped: 'BACKEND_DEPROVISIONER is none: no backend accounts to clean up' };
      if (neverActivated(connection))
        return { skipped: 'never activated: nothing was provisioned' };
      const attempt = await deps.deprovisioner.deprovision(backendRequest(connection));
      if (attempt === undefined) return { skipped: 'the deprovisioner has nothing to call' };
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
      const body = statusReport(kind, status);
      return attemptWithToken(
        status.client.tokens,
        (token) => status.client.report(body, token),
        (attempt, reauthenticated) =>
          classifyHttpStep(statusOf(attempt), retryAfterOf(attempt), {
            isSuccess: (s) => s === 204,
            reauthenticateOn: [401],
            reauthenticated,
          }),
      );
    };
  }

  async function processDeactivation(job: Job, log: Logger): Promise<DeprovisionResult> {
    const data = parseJobData(contracts.deactivationReceivedJob.parse, job.data);
    const { connection, changed } = await repo.recordDeactivation(data.connectionId, {
      requestId: data.requestId,
      receivedAt: new Date(data.receivedAt),
    });
    log.info({ tombstone: connection.tombstone === true, changed }, 'deactivation recorded');
    return runDeactivationSteps(connection, job, log);
  }

  /** Clean-up then report; steps already ended are not repeated. A failed step fails the job. */
  async function runDeactivationSteps(
    connection: ConnectionDocument,
    job: Job,
    log: Logger,
  ): Promise<DeprovisionResult> {
    const connectionId = connection.connectionId;
    const steps: DeprovisionResult['steps'] = {};
    steps.cleanup = await runStep(connectionId, 'cleanup', job, log, cleanUp(connection));
    steps.deactivationReport = await runStep(
      connectionId,
      'deactivationReport',
      job,
      log,
      report(connection, 'deactivation'),
    );
    const failed = Object.entries(steps)
      .filter(([, outcome]) => outcome === 'failed')
      .map(([step]) => step);
    // A failed step stays visible to operators in the queue's failed set; finished steps are kept.
    if (failed.length > 0) throw new UnrecoverableError(`steps failed: ${failed.join(', ')}`);
    return { connectionId, steps };
  }

  /** An operator reopened failed steps: run the deactivation steps again (ended ones are skipped). */
  async function processRetry(job: Job, log: Logger): Promise<DeprovisionResult> {
    const data = parseJobData(contracts.retryRequestedJob.parse, job.data);
    const connection = await repo.get(data.connectionId);
    if (connection === null)
      throw new UnrecoverableError(`connection ${data.connectionId} is unknown`);
    if (connection.state !== 'deactivated')
      return { connectionId: connection.connectionId, steps: {} };
    log.info({ actor: data.actor }, 'retrying deprovision steps');
    return runDeactivationSteps(connection, job, log);
  }

  async function processAccepted(job: Job, log: Logger): Promise<DeprovisionResult> {
    const data = parseJobData(contracts.connectionAcceptedJob.parse, job.data);
    if (deps.status?.reportActivations !== true)
      return { connectionId: data.connectionId, steps: {} };
    const connection = await repo.get(data.connectionId);
    if (connection === null)
      throw new UnrecoverableError(`connection ${data.connectionId} is unknown`);
    const outcome = await runStep(
      data.connectionId,
      'activationReport',
      job,
      log,
      report(connection, 'activation'),
    );
    if (outcome === 'failed') throw new UnrecoverableError('activation report failed');
    return { connectionId: data.connectionId, steps: { activationReport: outcome } };
  }

  return async function processDeprovisionJob(job: Job): Promise<DeprovisionResult> {
    const data = job.data as { connectionId?: unknown; requestId?: unknown };
    const log = deps.logger.child({
      jobId: job.id,
      job: job.name,
      connectionId: data.connectionId,
      requestId: data.requestId,
    });
    switch (job.name) {
      case JOB_NAMES.deactivationReceived:
        return processDeactivation(job, log);
      case JOB_NAMES.connectionAccepted:
        return processAccepted(job, log);
      case JOB_NAMES.deprovisionRetryRequested:
        return processRetry(job, log);
      default:
        throw new UnrecoverableError(`the deprovision queue does not handle ${job.name} jobs`);
    }
  };
}
