// An operator's suspension of an accepted connection (Fortellis' "stop traffic"): recorded on the
// connection (accepted → suspending, with who and why) and carried out by the approval worker,
// which sends `rejected` with the reason as its callback. The conditional write is the
// acknowledgement: once it is in MongoDB the callback is sent, by the published job or, if that
// publish failed, by the approval worker's reconciler.
import {
  AppError,
  ERROR_CODES,
  JOB_NAMES,
  jobIdFor,
  type SuspensionRequestedJob,
} from '@fortellis-admin/contracts';
import type { Logger } from '@fortellis-admin/service-kit/pure';
import { noSuchConnection } from '@fortellis-admin/connection-store';
import type { JobPublishing, OperationsRepository } from './ports.ts';
import { operatorActor } from './review-decision.ts';

export interface SuspensionPorts {
  repo: Pick<OperationsRepository, 'requestSuspension'>;
  publisher: JobPublishing;
  now: () => Date;
}

export interface SuspensionRequest {
  connectionId: string;
  /** The operator's token name. */
  operator: string;
  /** Sent to Fortellis as the `rejected` callback's `error`. */
  reason: string;
  requestId: string;
}

export interface SuspensionQueued {
  connectionId: string;
  state: 'suspending' | 'suspended';
  reason: string;
  actor: string;
  /**
   * `queued`: the job that sends the callback is in the queue. `recorded`: the suspension is
   * stored but its job could not be published; the reconciler sends it within its interval.
   * `done`: a repeat of a suspension Fortellis has already acknowledged.
   */
  status: 'queued' | 'recorded' | 'done';
}

/**
 * Suspends an accepted connection. Unknown connection: 404; any state but `accepted` (or the same
 * suspension again): 409 with the current state.
 */
export async function suspendConnection(
  ports: SuspensionPorts,
  request: SuspensionRequest,
  log: Pick<Logger, 'warn'>,
): Promise<SuspensionQueued> {
  const { connectionId, reason } = request;
  const actor = operatorActor(request.operator);
  const recorded = await ports.repo.requestSuspension(connectionId, {
    reason,
    by: actor,
    at: ports.now(),
  });
  if (recorded === null) throw noSuchConnection(connectionId);
  if (recorded.kind === 'conflict') {
    const taken = recorded.taken;
    throw new AppError(
      ERROR_CODES.conflict,
      taken === undefined
        ? `connection is ${recorded.state}: only an accepted connection can be suspended`
        : `connection is ${recorded.state}: already suspended by ${taken.by} (${taken.reason})`,
      { httpStatus: 409 },
    );
  }
  const { connection } = recorded;
  const state = connection.state === 'suspended' ? 'suspended' : 'suspending';
  const taken = connection.suspension ?? { reason, by: actor, at: ports.now() };
  const answer = { connectionId: connection.connectionId, state, reason, actor: taken.by } as const;
  if (state === 'suspended') return { ...answer, status: 'done' };
  // A repeat publishes again: the job id makes it one job, and a first publish that failed gets
  // its second chance.
  const job: SuspensionRequestedJob = {
    connectionId: connection.connectionId,
    reason,
    actor: taken.by,
    requestedAt: taken.at.toISOString(),
    requestId: request.requestId,
  };
  try {
    await ports.publisher.publish(
      JOB_NAMES.suspensionRequested,
      job,
      jobIdFor.suspensionRequested(job),
    );
  } catch (error) {
    log.warn(
      { err: error, connectionId: job.connectionId },
      'suspension recorded, its job not published: the reconciler will send it',
    );
    return { ...answer, status: 'recorded' };
  }
  return { ...answer, status: 'queued' };
}
