// An operator's decision on a connection held for review: recorded in the connection's history,
// then carried out by the approval worker through a ReviewDecided job (the same callback path).
import {
  AppError,
  ERROR_CODES,
  JOB_NAMES,
  jobIdFor,
  type ReviewDecidedJob,
} from '@fortellis-admin/contracts';
import type { JobPublishing, OperationsRepository } from './ports.ts';

export interface ReviewDecisionPorts {
  repo: Pick<OperationsRepository, 'recordOperatorAction'>;
  publisher: JobPublishing;
  now: () => Date;
}

export interface ReviewRequest {
  connectionId: string;
  /** The operator's token name. */
  operator: string;
  action: 'approve' | 'reject';
  requestId: string;
  /** Sent with a rejection as the callback's error. */
  reason?: string | undefined;
}

export interface ReviewQueued {
  connectionId: string;
  action: 'approve' | 'reject';
  actor: string;
  status: 'queued';
}

/** The actor recorded for an operator: `ops:<token name>`. */
export const operatorActor = (operator: string): string => `ops:${operator}`;

/**
 * Decides a `pending_review` connection. Unknown connection: 404; any other state: 409.
 */
export async function decideHeldConnection(
  ports: ReviewDecisionPorts,
  request: ReviewRequest,
): Promise<ReviewQueued> {
  const { connectionId, action, reason } = request;
  const actor = operatorActor(request.operator);
  const recorded = await ports.repo.recordOperatorAction(
    connectionId,
    {
      event: `operator_${action}_requested`,
      by: actor,
      ...(reason === undefined ? {} : { detail: reason }),
    },
    ['pending_review'],
  );
  if (recorded === null)
    throw new AppError(ERROR_CODES.notFound, `no connection ${connectionId}`, {
      httpStatus: 404,
    });
  if (recorded.kind === 'conflict') {
    throw new AppError(
      ERROR_CODES.conflict,
      `connection is ${recorded.state}, not pending_review`,
      { httpStatus: 409 },
    );
  }
  const job: ReviewDecidedJob = {
    connectionId: recorded.connection.connectionId,
    action,
    actor,
    decidedAt: ports.now().toISOString(),
    requestId: request.requestId,
    ...(reason === undefined ? {} : { reason }),
  };
  await ports.publisher.publish(JOB_NAMES.reviewDecided, job, jobIdFor.reviewDecided(job));
  return { connectionId: job.connectionId, action, actor, status: 'queued' };
}
