// Sends the Fortellis callback a connection's decision or suspension calls for, under its lease and
// once in effect (the leased-call protocol: libs/service-kit/src/leased-call.ts), with the
// client-credentials token and, after a provisioning, the account's credentials as `auth`.
import { AppError, type ConnectionCallbackBody } from '@fortellis-admin/contracts';
import {
  getOrThrow,
  isLeaseUnavailable,
  unknownConnection,
  type AcquiredLease,
  type CallbackDueState,
  type CallSlot,
  type ConnectionDocument,
} from '@fortellis-admin/connection-store';
import {
  attemptWithToken,
  CALLBACK_ANSWER_RULES,
  classifyHttpAnswer,
  horizonElapsed,
  retryAfterOf,
  RetryLaterError,
  runLeasedCall,
  statusOf,
  type CallAttempt,
  type CallEnding,
  type EndedWithoutCall,
  type Logger,
  type RetryHorizon,
} from '@fortellis-admin/service-kit/pure';
import type { JobContext } from '@fortellis-admin/service-kit/pure';
import type { AdvanceStep, ApprovalUseCaseDeps, ProcessResult } from './approval-ports.ts';
import { callbackBody, keptCallbackAnswer } from './callback-body.ts';
import { finishCallback, type CallbackEnd } from './finish-callback.ts';

/** A callback sent: its last attempt, the body it carried and the tokens it was sent with. */
interface SentCallback extends CallAttempt {
  body: ConnectionCallbackBody;
  sentWith: string[];
}

/**
 * Sends the callback due from `from` under its lease: `taken` when the write before took it. A
 * connection found moved on is handed back to the dispatch; one whose callback another worker is
 * sending is looked at again later.
 */
export async function sendCallback(
  deps: ApprovalUseCaseDeps,
  connection: ConnectionDocument,
  from: CallbackDueState,
  job: JobContext,
  log: Logger,
  taken: AcquiredLease | undefined,
): Promise<AdvanceStep> {
  const { connectionId } = connection;
  const leaseMs = deps.settings.callbackLeaseMs;
  const slot: CallSlot = { call: 'callback', state: from };
  const lease = taken ?? (await deps.repo.acquireCallLease(connectionId, slot, leaseMs));
  if (isLeaseUnavailable(lease)) {
    if (lease.why === 'unknown') throw unknownConnection(connectionId);
    if (lease.why !== 'busy') return { movedOn: lease.connection };
    // Another run holds a live lease on this callback: let it finish, look again later.
    throw new RetryLaterError('another worker is sending this callback', leaseMs);
  }
  const horizon: RetryHorizon = {
    since: job.publishedAt,
    limitMs: deps.settings.retryHorizonMs,
    clock: deps.clock,
  };
  return runLeasedCall<CallbackEnd, ProcessResult, SentCallback>({
    lease,
    ledger: {
      store: deps.ledger,
      foundEarlier: (earlier) =>
        log.warn(
          { outcome: earlier.outcome, status: earlier.status },
          'callback already sent by an earlier attempt: recording its outcome, not sending again',
        ),
      takenOver: async () => ({
        connectionId,
        state: (await getOrThrow(deps.repo, connectionId)).state,
      }),
    },
    horizon,
    log,
    perform: () => send(deps, connection, from, job, log),
    failedToCall: (error) => tokenFailed(error, horizon),
    endOf: callbackEndOf,
    retryMessage: ({ attempt }) =>
      `callback answered ${attempt.answered ? attempt.status : attempt.error}`,
    release: (attempt) => deps.repo.releaseCallLease(connectionId, slot, lease.leaseId, attempt),
    complete: (end) => finishCallback(deps, connection, lease.leaseId, from, end, log),
  });
}

/** One callback attempt (a second at once with a fresh token when the first was refused). */
async function send(
  deps: ApprovalUseCaseDeps,
  connection: ConnectionDocument,
  from: CallbackDueState,
  job: JobContext,
  log: Logger,
): Promise<SentCallback | EndedWithoutCall<CallbackEnd>> {
  const { connectionId } = connection;
  let body: ConnectionCallbackBody;
  try {
    body = callbackBody(deps, connection, from);
  } catch (error) {
    // The credentials cannot be opened (the key changed): give up visibly; an operator restores
    // the key and retries.
    const reason = (error as Error).message;
    return { ended: { outcome: 'failed', error: reason, giveUp: reason } };
  }
  const requestId = connection.requestId ?? (job.id || connectionId);
  const outcome = await attemptWithToken(
    deps.tokens,
    (token) => deps.callbacks.send(connectionId, body, token, requestId),
    (answer, reauthenticated) =>
      classifyHttpAnswer(
        statusOf(answer),
        retryAfterOf(answer),
        CALLBACK_ANSWER_RULES,
        reauthenticated,
      ),
  );
  const { attempt, verdict } = outcome;
  deps.recordCall?.('callback', verdict.kind);
  if (outcome.reauthenticated) log.info('callback token was refused: a new one was fetched');
  const status = statusOf(attempt);
  const error = attempt.answered ? undefined : attempt.error;
  log.info({ callback: body.status, status, error, attempt: job.attempt }, 'callback attempt');
  return { attempt, verdict, body, sentWith: outcome.sentWith };
}

/**
 * The token endpoint failed: the callback was not sent. Retried like any failed attempt, and given
 * up visibly (callback_failed, which operators can retry) past the same horizon.
 */
function tokenFailed(
  error: unknown,
  horizon: RetryHorizon,
): EndedWithoutCall<CallbackEnd> | { release: string } {
  const reason = `token: ${(error as Error).message}`;
  const { elapsedMs, passed } = horizonElapsed(horizon);
  // A refused client (400/401 from the token endpoint) will not heal by retrying either.
  const refused = error instanceof AppError && error.permanent;
  if (!refused && !passed) return { release: reason };
  return {
    ended: {
      outcome: 'failed',
      error: reason,
      giveUp: refused
        ? `callback token refused: ${(error as Error).message}`
        : `callback token still failing after ${Math.round(elapsedMs / 1000)} s: giving up`,
    },
  };
}

/** How a sent callback ended: acknowledged, or failed with what may be kept of the answer. */
function callbackEndOf({ attempt, body, sentWith }: SentCallback, ending: CallEnding): CallbackEnd {
  const failed = (giveUp: string): CallbackEnd => ({
    outcome: 'failed',
    ...(attempt.answered
      ? { status: attempt.status, ...keptCallbackAnswer(attempt.body, body, sentWith) }
      : { error: attempt.error }),
    giveUp,
  });
  const status = statusOf(attempt);
  switch (ending.kind) {
    case 'success':
      return { outcome: 'acknowledged', ...(status === undefined ? {} : { status }) };
    case 'refused':
      return failed(`callback refused with HTTP ${status ?? 'none'}`);
    case 'expired':
      return failed(
        `callback still failing after ${Math.round(ending.elapsedMs / 1000)} s: giving up`,
      );
  }
}
