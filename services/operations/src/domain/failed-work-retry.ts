// An operator's retry of what failed on a connection: the provisioning (provisioning_failed) or the
// callback (callback_failed), both on the approval queue, else the deprovision steps that failed. Only the retry job is published here; the worker that takes it
// reopens the failed work and runs it. So a publish that fails changes nothing (the operator sees
// the error and can try again), and a published retry is never stranded half done.
import {
  AppError,
  ERROR_CODES,
  JOB_NAMES,
  jobIdFor,
  type RetryRequestedJob,
} from '@fortellis-admin/contracts';
import {
  failedSteps,
  getOrThrow,
  noSuchConnection,
  type ConnectionDocument,
} from '@fortellis-admin/connection-store';
import type { JobPublishing, OperationsRepository } from './ports.ts';
import { operatorActor } from './review-decision.ts';

export interface RetryPorts {
  repo: Pick<OperationsRepository, 'get'>;
  publisher: JobPublishing;
  now: () => Date;
}

export interface RetryQueued {
  connectionId: string;
  /** `['provisioning']`, `['callback']`, or the deprovision steps that failed. */
  retried: string[];
  actor: string;
  status: 'queued';
}

/** What a retry of `connection` would re-run: its callback, its failed steps, or nothing. */
export function failedWorkOf(
  connection: Pick<ConnectionDocument, 'state' | 'steps'>,
): { target: 'callback' | 'deprovision'; retried: string[] } | null {
  if (connection.state === 'callback_failed') return { target: 'callback', retried: ['callback'] };
  // The approval worker's retry job reopens a failed provisioning as it does a failed callback.
  if (connection.state === 'provisioning_failed')
    return { target: 'callback', retried: ['provisioning'] };
  const steps = failedSteps(connection);
  return steps.length > 0 ? { target: 'deprovision', retried: steps } : null;
}

/** Unknown connection: 404; nothing failed: 409. */
export async function retryFailedWork(
  ports: RetryPorts,
  request: { connectionId: string; operator: string; requestId: string },
): Promise<RetryQueued> {
  const { connectionId } = request;
  const actor = operatorActor(request.operator);
  const connection = await getOrThrow(ports.repo, connectionId, noSuchConnection);
  const work = failedWorkOf(connection);
  if (work === null)
    throw new AppError(
      ERROR_CODES.conflict,
      `connection is ${connection.state} with nothing failed to retry`,
      { httpStatus: 409 },
    );
  const job: RetryRequestedJob = {
    connectionId: connection.connectionId,
    actor,
    requestedAt: ports.now().toISOString(),
    requestId: request.requestId,
  };
  await ports.publisher.publish(
    work.target === 'callback'
      ? JOB_NAMES.callbackRetryRequested
      : JOB_NAMES.deprovisionRetryRequested,
    job,
    jobIdFor.retryRequested(work.target, job),
  );
  return { connectionId: job.connectionId, retried: work.retried, actor, status: 'queued' };
}
