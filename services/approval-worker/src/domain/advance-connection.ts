// Moves a connection on from wherever it stands: sends the callback its decision calls for (under
// the lease, once), announces an acceptance to the deprovision worker, or leaves it as it is.
import {
  AppError,
  ERROR_CODES,
  jobIdFor,
  type ConnectionAcceptedJob,
  type ConnectionCallbackBody,
} from '@fortellis-admin/contracts';
import type { CallbackDueState, ConnectionDocument } from '@fortellis-admin/connection-store';
import {
  attemptWithToken,
  classifyCallback,
  retryAfterOf,
  RetryLaterError,
  statusOf,
  type HttpAttempt,
  type JobContext,
  type Logger,
} from '@fortellis-admin/service-kit';
import type { ApprovalUseCaseDeps, ProcessResult } from './approval-ports.ts';
import { DEFAULT_REJECTION_REASON } from './approval-rules.ts';

export type AdvanceConnection = (
  connection: ConnectionDocument,
  job: JobContext,
  log: Logger,
) => Promise<ProcessResult>;

export function createAdvanceConnection(deps: ApprovalUseCaseDeps): AdvanceConnection {
  const { repo } = deps;

  const advance: AdvanceConnection = async (connection, job, log) => {
    switch (connection.state) {
      case 'approved':
      case 'rejected':
        return sendCallback(connection, connection.state, job, log);
      case 'accepted':
        await announce(connection, log);
        return { connectionId: connection.connectionId, state: connection.state };
      case 'received':
      case 'pending_review':
      case 'rejection_sent':
      case 'callback_failed':
      case 'deactivated':
        return { connectionId: connection.connectionId, state: connection.state };
    }
  };

  async function sendCallback(
    connection: ConnectionDocument,
    from: CallbackDueState,
    job: JobContext,
    log: Logger,
  ): Promise<ProcessResult> {
    const connectionId = connection.connectionId;
    // Long enough for one attempt (the request timeout) with a margin; a dead holder blocks no longer.
    const leaseMs = deps.settings.callbackTimeoutMs + 5000;
    const leaseId = await repo.acquireCallbackLease(connectionId, from, leaseMs);
    if (leaseId === null) {
      const now = await mustGet(connectionId);
      if (now.state !== from) return advance(now, job, log);
      // Another run holds a live lease on this callback: let it finish, look again later.
      throw new RetryLaterError('another worker is sending this callback', leaseMs);
    }
    const body: ConnectionCallbackBody =
      from === 'approved'
        ? { status: 'accepted' }
        : { status: 'rejected', error: connection.decision?.reason ?? DEFAULT_REJECTION_REASON };
    const requestId = connection.requestId ?? (job.id || connectionId);

    let outcome;
    try {
      outcome = await attemptWithToken(
        deps.tokens,
        (token) => deps.callbacks.send(connectionId, body, token, requestId),
        (answer, reauthenticated) =>
          classifyCallback(statusOf(answer), retryAfterOf(answer), reauthenticated),
      );
    } catch (error) {
      // The token endpoint failed: the callback was not sent. Retry like any failed attempt, and
      // give up visibly (callback_failed, which operators can retry) past the same horizon.
      const reason = `token: ${(error as Error).message}`;
      const elapsed = deps.clock.now().getTime() - job.publishedAt.getTime();
      // A refused client (400/401 from the token endpoint) will not heal by retrying either.
      const refused = error instanceof AppError && error.permanent;
      if (refused || elapsed >= deps.settings.retryHorizonMs) {
        await repo.completeCallback(connectionId, leaseId, from, {
          outcome: 'failed',
          error: reason,
        });
        throw permanent(
          refused
            ? `callback token refused: ${(error as Error).message}`
            : `callback token still failing after ${Math.round(elapsed / 1000)} s: giving up`,
        );
      }
      await repo.releaseCallbackLease(connectionId, leaseId, { error: reason });
      throw error;
    }
    const { attempt, verdict } = outcome;
    deps.recordCall?.('callback', verdict.kind);
    if (outcome.reauthenticated) log.info('callback token was refused: a new one was fetched');
    const status = statusOf(attempt);
    const error = attempt.answered ? undefined : attempt.error;
    log.info({ callback: body.status, status, error, attempt: job.attempt }, 'callback attempt');

    switch (verdict.kind) {
      case 'success': {
        const done = await repo.completeCallback(connectionId, leaseId, from, {
          outcome: 'acknowledged',
          ...(status === undefined ? {} : { status }),
        });
        if (done === null) return { connectionId, state: (await mustGet(connectionId)).state };
        await announce(done, log);
        return { connectionId, state: done.state };
      }
      case 'permanent':
      case 'reauthenticate': {
        await fail(connectionId, leaseId, from, attempt);
        throw permanent(`callback refused with HTTP ${status ?? 'none'}`);
      }
      case 'retry': {
        const elapsed = deps.clock.now().getTime() - job.publishedAt.getTime();
        if (elapsed >= deps.settings.retryHorizonMs) {
          await fail(connectionId, leaseId, from, attempt);
          throw permanent(
            `callback still failing after ${Math.round(elapsed / 1000)} s: giving up`,
          );
        }
        await repo.releaseCallbackLease(connectionId, leaseId, {
          ...(status === undefined ? {} : { status }),
          error: error ?? `HTTP ${status}`,
        });
        throw new RetryLaterError(`callback answered ${status ?? error}`, verdict.retryAfterMs);
      }
    }
  }

  async function fail(
    connectionId: string,
    leaseId: string,
    from: CallbackDueState,
    attempt: HttpAttempt,
  ): Promise<void> {
    await repo.completeCallback(connectionId, leaseId, from, {
      outcome: 'failed',
      ...(attempt.answered
        ? { status: attempt.status, body: attempt.body }
        : { error: attempt.error }),
    });
  }

  async function announce(connection: ConnectionDocument, log: Logger): Promise<void> {
    if (
      connection.state !== 'accepted' ||
      connection.acceptanceAnnounced === true ||
      connection.subscriptionId === undefined
    )
      return;
    const message: ConnectionAcceptedJob = {
      connectionId: connection.connectionId,
      subscriptionId: connection.subscriptionId,
      acceptedAt: (connection.callback?.completedAt ?? deps.clock.now()).toISOString(),
      requestId: connection.requestId ?? connection.connectionId,
    };
    await deps.announceAccepted(message, jobIdFor.connectionAccepted(message));
    await repo.markAcceptanceAnnounced(connection.connectionId);
    log.info('connection accepted and announced');
  }

  async function mustGet(connectionId: string): Promise<ConnectionDocument> {
    const found = await repo.get(connectionId);
    if (found === null) throw new Error(`connection ${connectionId} disappeared`);
    return found;
  }

  return advance;
}

/** Retrying cannot change this: the job ends, failed, for operators to see. */
export function permanent(message: string): AppError {
  return new AppError(ERROR_CODES.upstreamFailed, message, { permanent: true });
}
