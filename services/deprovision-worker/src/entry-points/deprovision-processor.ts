// The deprovision worker's job processor: turns each job of the deprovision queue
// (DeactivationReceived, ConnectionAccepted, DeprovisionRetryRequested, and the reconciler's two) into a call of its use
// case, with its data checked against the contract and a logger that names the job and connection.
import { UnrecoverableError, type Job } from 'bullmq';
import { contracts, JOB_NAMES, RECONCILER_JOB_NAMES } from '@fortellis-admin/contracts';
import { jobContextOf, parseJobData } from '@fortellis-admin/service-kit';
import type { DeprovisionResult, DeprovisionUseCaseDeps } from '../domain/deprovision-ports.ts';
import { createDeprovisionUseCases } from '../domain/deprovision-use-cases.ts';

export type { DeprovisionResult, StatusReporting } from '../domain/deprovision-ports.ts';
export type DeprovisionProcessorDeps = DeprovisionUseCaseDeps;
/** What a job ended with: what it did to each step, or what a reconciler run did. */
export type DeprovisionJobResult = DeprovisionResult | { found: number; published: number };

export function createDeprovisionProcessor(deps: DeprovisionProcessorDeps) {
  const useCases = createDeprovisionUseCases(deps);

  return async function processDeprovisionJob(job: Job): Promise<DeprovisionJobResult> {
    if (job.name === RECONCILER_JOB_NAMES.reconciliationDue)
      return useCases.handleReconciliation(deps.logger.child({ jobId: job.id, job: job.name }));
    const data = job.data as { connectionId?: unknown; requestId?: unknown };
    const log = deps.logger.child({
      jobId: job.id,
      job: job.name,
      connectionId: data.connectionId,
      requestId: data.requestId,
    });
    const context = jobContextOf(job);
    switch (job.name) {
      case JOB_NAMES.deactivationReceived:
        return useCases.handleDeactivation(
          parseJobData(contracts.deactivationReceivedJob.parse, job.data),
          context,
          log,
        );
      case JOB_NAMES.connectionAccepted:
        return useCases.handleAccepted(
          parseJobData(contracts.connectionAcceptedJob.parse, job.data),
          context,
          log,
        );
      case JOB_NAMES.deprovisionRetryRequested:
        return useCases.handleRetry(
          parseJobData(contracts.retryRequestedJob.parse, job.data),
          context,
          log,
        );
      case RECONCILER_JOB_NAMES.stalledConnectionFound:
        return useCases.handleStalledConnection(
          parseJobData(contracts.stalledConnectionFoundJob.parse, job.data),
          context,
          log,
        );
      default:
        throw new UnrecoverableError(`the deprovision queue does not handle ${job.name} jobs`);
    }
  };
}
