// An operator's decision on a connection held for review: recorded in the connection's history,
// then carried out by the approval worker through a ReviewDecided job (the same callback path).
import {
  AppError,
  ERROR_CODES,
  JOB_NAMES,
  jobIdFor,
  type ReviewDecidedJob,
} from '@fortellis-admin/contracts';
import { noSuchConnection } from '@fortellis-admin/connection-store';
import type { JobPublishing, OperationsRepository } from './ports.ts';

export interface ReviewDecisionPorts {
  repo: Pick<OperationsRepository, 'recordReviewRequest'>;
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
  const recorded = await ports.repo.recordReviewRequest(connectionId, {
    action,
    by: actor,
    at: ports.now(),
    ...(reason === undefined ? {} : { reason }),
  });
  if (recorded === null) throw noSuchConnection(connectionId);
  if (recorded.kind === 'conflict') {
    const taken =
      recorded.taken === undefined ? '' : `; already decided: ${describeTaken(recorded.taken)}`;
    throw new AppError(
      ERROR_CODES.conflict,
      recorded.state === 'pending_review'
        ? `connection already has a review decision: ${describeTaken(recorded.taken)}`
        : `connection is ${recorded.state}, not pending_review${taken}`,
      { httpStatus: 409 },
    );
  }
  // A repeat (a double click) publishes again: the job id makes it one job, and a first publish
  // that failed gets its second chance.
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

/** `reject by ops:alice (Unpaid invoices)`: what was decided, by whom, and why. */
function describeTaken(
  taken: { action: string; by?: string; decidedBy?: string; reason?: string } | undefined,
): string {
  if (taken === undefined) return 'unknown';
  const by = taken.by ?? taken.decidedBy ?? 'unknown';
  return `${taken.action} by ${by}${taken.reason === undefined ? '' : ` (${taken.reason})`}`;
}
