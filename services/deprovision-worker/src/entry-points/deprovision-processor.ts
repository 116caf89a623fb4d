// The deprovision worker's jobs, declared: each job of the deprovision queue (DeactivationReceived,
// ConnectionAccepted, DeprovisionRetryRequested, and the reconciler's two) with the contract its
// data is checked against and the use case it calls.
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
import type { DeprovisionResult, DeprovisionUseCaseDeps } from '../domain/deprovision-ports.ts';
import {
  handleAccepted,
  handleDeactivation,
  handleReconciliation,
  handleRetry,
  handleStalledConnection,
} from '../domain/deprovision-use-cases.ts';

export type { DeprovisionResult, StatusReporting } from '../domain/deprovision-ports.ts';
export type DeprovisionProcessorDeps = DeprovisionUseCaseDeps;
/** What a job ended with: what it did to each step, or what a reconciler run did. */
export type DeprovisionJobResult = DeprovisionResult | { found: number; published: number };

/** The deprovision queue's jobs: per job name, its contract and its use case. */
export const DEPROVISION_JOBS: QueueWorkerDeclaration<
  DeprovisionProcessorDeps,
  DeprovisionJobResult
> = declareQueueWorker({
  queue: QUEUE_NAMES.deprovision,
  jobs: {
    [JOB_NAMES.deactivationReceived]: {
      parse: contracts.deactivationReceivedJob.parse,
      handle: handleDeactivation,
    },
    [JOB_NAMES.connectionAccepted]: {
      parse: contracts.connectionAcceptedJob.parse,
      handle: handleAccepted,
    },
    [JOB_NAMES.deprovisionRetryRequested]: {
      parse: contracts.retryRequestedJob.parse,
      handle: handleRetry,
    },
    [RECONCILER_JOB_NAMES.stalledConnectionFound]: {
      parse: contracts.stalledConnectionFoundJob.parse,
      handle: handleStalledConnection,
    },
  },
  jobsWithoutData: { [RECONCILER_JOB_NAMES.reconciliationDue]: handleReconciliation },
  logFieldsOf: (data): JobLogFields => {
    const fields = data as { connectionId?: unknown; requestId?: unknown };
    return { connectionId: fields.connectionId, requestId: fields.requestId };
  },
});
