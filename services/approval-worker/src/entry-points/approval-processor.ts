// The approval worker's job processor: turns each job of the approval queue (ActivationReceived,
// ReviewDecided, SuspensionRequested, CallbackRetryRequested, and the reconciler's two) into a call
// of its use case, with its data checked against the contract and a logger that names the job and
// the connection.
import { UnrecoverableError, type Job } from 'bullmq';
import { contracts, JOB_NAMES, RECONCILER_JOB_NAMES } from '@fortellis-admin/contracts';
import { jobContextOf, parseJobData } from '@fortellis-admin/service-kit';
import type { ApprovalUseCaseDeps, ProcessResult } from '../domain/approval-ports.ts';
import { createApprovalUseCases } from '../domain/approval-use-cases.ts';

export type { ProcessResult } from '../domain/approval-ports.ts';
export type ApprovalProcessorDeps = ApprovalUseCaseDeps;
/** What a job ended with: where it left its connection, or what a reconciler run did. */
export type ApprovalJobResult = ProcessResult | { found: number; published: number };

export function createApprovalProcessor(deps: ApprovalProcessorDeps) {
  const useCases = createApprovalUseCases(deps);

  return async function processApprovalJob(job: Job): Promise<ApprovalJobResult> {
    if (job.name === RECONCILER_JOB_NAMES.reconciliationDue)
      return useCases.handleReconciliation(deps.logger.child({ jobId: job.id, job: job.name }));
    const data = job.data as {
      activation?: { connectionId?: unknown };
      connectionId?: unknown;
      requestId?: unknown;
    };
    const log = deps.logger.child({
      jobId: job.id,
      job: job.name,
      connectionId: data.activation?.connectionId ?? data.connectionId,
      requestId: data.requestId,
    });
    const context = jobContextOf(job);
    switch (job.name) {
      case JOB_NAMES.activationReceived:
        return useCases.handleActivation(
          parseJobData(contracts.activationReceivedJob.parse, job.data),
          context,
          log,
        );
      case JOB_NAMES.reviewDecided:
        return useCases.handleReviewDecision(
          parseJobData(contracts.reviewDecidedJob.parse, job.data),
          context,
          log,
        );
      case JOB_NAMES.suspensionRequested:
        return useCases.handleSuspension(
          parseJobData(contracts.suspensionRequestedJob.parse, job.data),
          context,
          log,
        );
      case JOB_NAMES.callbackRetryRequested:
        return useCases.handleCallbackRetry(
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
        throw new UnrecoverableError(`the approval queue does not handle ${job.name} jobs`);
    }
  };
}
