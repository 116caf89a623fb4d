// The approval worker's jobs, declared: each job of the approval queue (ActivationReceived,
// ReviewDecided, SuspensionRequested, CallbackRetryRequested, and the reconciler's two) with the
// contract its data is checked against and the use case it calls.
import {
  contracts,
  JOB_NAMES,
  QUEUE_NAMES,
  RECONCILER_JOB_NAMES,
} from '@fortellis-admin/contracts';
import {
  declareQueueWorker,
  type JobLogFields,
  type QueueWorkerDeclaration,
} from '@fortellis-admin/service-kit';
import type { ApprovalUseCaseDeps, ProcessResult } from '../domain/approval-ports.ts';
import {
  handleActivation,
  handleReconciliation,
  handleRetryRequested,
  handleReviewDecision,
  handleStalledConnection,
  handleSuspension,
} from '../domain/approval-use-cases.ts';

export type { ProcessResult } from '../domain/approval-ports.ts';
export type ApprovalProcessorDeps = ApprovalUseCaseDeps;
/** What a job ended with: where it left its connection, or what a reconciler run did. */
export type ApprovalJobResult = ProcessResult | { found: number; published: number };

/** The approval queue's jobs: per job name, its contract and its use case. */
export const APPROVAL_JOBS: QueueWorkerDeclaration<ApprovalProcessorDeps, ApprovalJobResult> =
  declareQueueWorker({
    queue: QUEUE_NAMES.approval,
    jobs: {
      [JOB_NAMES.activationReceived]: {
        parse: contracts.activationReceivedJob.parse,
        handle: handleActivation,
      },
      [JOB_NAMES.reviewDecided]: {
        parse: contracts.reviewDecidedJob.parse,
        handle: handleReviewDecision,
      },
      [JOB_NAMES.suspensionRequested]: {
        parse: contracts.suspensionRequestedJob.parse,
        handle: handleSuspension,
      },
      [JOB_NAMES.callbackRetryRequested]: {
        parse: contracts.retryRequestedJob.parse,
        handle: handleRetryRequested,
      },
      [RECONCILER_JOB_NAMES.stalledConnectionFound]: {
        parse: contracts.stalledConnectionFoundJob.parse,
        handle: handleStalledConnection,
      },
    },
    jobsWithoutData: { [RECONCILER_JOB_NAMES.reconciliationDue]: handleReconciliation },
    logFieldsOf: (data): JobLogFields => {
      // An activation carries its connection inside the request; every other job at the top.
      const fields = data as {
        activation?: { connectionId?: unknown };
        connectionId?: unknown;
        requestId?: unknown;
      };
      return {
        connectionId: fields.activation?.connectionId ?? fields.connectionId,
        requestId: fields.requestId,
      };
    },
  });
