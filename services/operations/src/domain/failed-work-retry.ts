// An operator's retry of what failed on a connection: the callback (callback_failed), else the
// deprovision steps that failed. The work is reopened on the connection, then a retry job queued.
import {
  AppError,
  ERROR_CODES,
  JOB_NAMES,
  jobIdFor,
  type RetryRequestedJob,
} from '@fortellis-admin/contracts';
import type { JobPublishing, OperationsRepository } from './ports.ts';
import { operatorActor } from './review-decision.ts';

export interface RetryPorts {
  repo: Pick<OperationsRepository, 'get' | 'reopenCallback' | 'reopenFailedSteps'>;
  publisher: JobPublishing;
  now: () => Date;
}

export interface RetryQueued {
  connectionId: string;
  /** `['callback']`, or the deprovision steps reopened. */
  retried: string[];
  actor: string;
  status: 'queued';
}

/** Unknown connection: 404; nothing failed: 409. */
export async function retryFailedWork(
  ports: RetryPorts,
  request: { connectionId: string; operator: string; requestId: string },
): Promise<RetryQueued> {
  const { connectionId } = request;
  const actor = operatorActor(request.operator);
  const connection = await ports.repo.get(connectionId);
  if (connection === null)
    throw new AppError(ERROR_CODES.notFound, `no connection ${connectionId}`, {
      httpStatus: 404,
    });
  const job: RetryRequestedJob = {
    connectionId: connection.connectionId,
    actor,
    requestedAt: ports.now().toISOString(),
    requestId: request.requestId,
  };
  if (
    connection.state === 'callback_failed' &&
    (await ports.repo.reopenCallback(connectionId, actor)) !== null
  ) {
    await ports.publisher.publish(
      JOB_NAMES.callbackRetryRequested,
      job,
      jobIdFor.retryRequested('callback', job),
    );
    return { connectionId: job.connectionId, retried: ['callback'], actor, status: 'queued' };
  }
  const steps = await ports.repo.reopenFailedSteps(connectionId, actor);
  if (steps.length > 0) {
    await ports.publisher.publish(
      JOB_NAMES.deprovisionRetryRequested,
      job,
      jobIdFor.retryRequested('deprovision', job),
    );
    return { connectionId: job.connectionId, retried: steps, actor, status: 'queued' };
  }
  throw new AppError(
    ERROR_CODES.conflict,
    `connection is ${connection.state} with nothing failed to retry`,
    { httpStatus: 409 },
  );
}
