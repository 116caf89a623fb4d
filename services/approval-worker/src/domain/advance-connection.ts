// Moves a connection on from wherever it stands: provisions an approved buyer's account in the
// backend (under its lease, once: the backend gets the connection id as idempotency key), sends
// the callback its decision or suspension calls for (under the lease, once, with the account's
// credentials as `auth`), announces an acceptance to the deprovision worker, or leaves it as it is.
import {
  AppError,
  ERROR_CODES,
  formatIssues,
  jobIdFor,
  type ConnectionAcceptedJob,
  type ConnectionCallbackBody,
  type ContractIssue,
} from '@fortellis-admin/contracts';
import type {
  AcquiredLease,
  CallbackDueState,
  CallbackEnd as StoredCallbackEnd,
  ConnectionDocument,
} from '@fortellis-admin/connection-store';
import {
  attemptWithToken,
  classifyCallback,
  classifyHttpStep,
  redactedBody,
  rememberCallEnd,
  retryAfterOf,
  retryLater,
  RetryLaterError,
  statusOf,
  type JobContext,
  type Logger,
} from '@fortellis-admin/service-kit';
import type { ApprovalUseCaseDeps, ProcessResult } from './approval-ports.ts';
import { DEFAULT_REJECTION_REASON } from '@fortellis-admin/approval-rules';
import { provisionRequest, readProvisionAnswer } from './provisioning-plan.ts';

/** How a callback ended, as the ledger and the database record it; `giveUp` says why it failed. */
type CallbackEnd = StoredCallbackEnd & { giveUp?: string };

/** A lease taken by the write that produced the connection, and the call it is for. */
export interface TakenLease {
  lease: AcquiredLease;
  for: 'callback' | 'provisioning';
}

/**
 * Moves `connection` on. `taken` is the lease of its next call when the write that produced
 * `connection` took it (an activation stored already decided), so it is not taken again.
 */
export type AdvanceConnection = (
  connection: ConnectionDocument,
  job: JobContext,
  log: Logger,
  taken?: TakenLease,
) => Promise<ProcessResult>;

const is2xx = (status: number) => status >= 200 && status < 300;

export function createAdvanceConnection(deps: ApprovalUseCaseDeps): AdvanceConnection {
  const { repo } = deps;

  const advance: AdvanceConnection = async (connection, job, log, taken) => {
    const lease = (call: TakenLease['for']) => (taken?.for === call ? taken.lease : undefined);
    switch (connection.state) {
      case 'approved':
        if (needsProvisioning(connection))
          return provision(connection, job, log, lease('provisioning'));
        return sendCallback(connection, connection.state, job, log, lease('callback'));
      case 'rejected':
        return sendCallback(connection, connection.state, job, log, lease('callback'));
      case 'suspending':
        // An acceptance suspended before it was announced is announced first: the buyer had the
        // API, and the deprovision worker's reports must say so.
        await announce(connection, log);
        return sendCallback(connection, connection.state, job, log, lease('callback'));
      case 'accepted':
        await announce(connection, log);
        return { connectionId: connection.connectionId, state: connection.state };
      case 'received':
      case 'pending_review':
      case 'provisioning_failed':
      case 'rejection_sent':
      case 'suspended':
      case 'callback_failed':
      case 'deactivated':
        return { connectionId: connection.connectionId, state: connection.state };
    }
  };

  /** An approved connection whose account the configured backend has not provisioned yet. */
  function needsProvisioning(connection: ConnectionDocument): boolean {
    return deps.provisioner.kind === 'http' && connection.provisioning?.status !== 'done';
  }

  /**
   * Provisions the buyer's account, then sends the callback with its credentials. A repeated call
   * (a retry, a worker that died mid-call) carries the same idempotency key, so the backend creates
   * the account once and answers the same credentials. A refusal, an unusable answer, or failures
   * past the retry horizon give up visibly: `provisioning_failed`, for an operator to retry.
   */
  async function provision(
    connection: ConnectionDocument,
    job: JobContext,
    log: Logger,
    taken: AcquiredLease | undefined,
  ): Promise<ProcessResult> {
    const connectionId = connection.connectionId;
    const leaseMs = deps.settings.provisioningLeaseMs;
    const lease = taken ?? (await repo.acquireProvisioningLease(connectionId, leaseMs));
    if (lease === null) {
      const now = await mustGet(connectionId);
      if (now.state !== 'approved' || !needsProvisioning(now)) return advance(now, job, log);
      // Another run holds a live lease on it: look again when that lease ends at the latest.
      const until = now.provisioning?.leaseUntil?.getTime() ?? deps.clock.now().getTime() + leaseMs;
      throw new RetryLaterError(
        'another worker is provisioning this account',
        Math.max(100, until - deps.clock.now().getTime()),
      );
    }
    const { leaseId } = lease;
    const attempt = await deps.provisioner.provision(provisionRequest(connection));
    const status = statusOf(attempt);
    const verdict = classifyHttpStep(status, retryAfterOf(attempt), {
      isSuccess: is2xx,
      reauthenticateOn: [],
      reauthenticated: false,
    });
    deps.recordCall?.('backend', verdict.kind);
    const error = attempt.answered ? undefined : attempt.error;
    log.info({ status, error, attempt: job.attempt }, 'provisioning attempt');
    /** Gives up, keeping the backend's status and never its body: it may hold credentials. */
    const giveUp = async (note: string, problems?: ContractIssue[]): Promise<never> => {
      await repo.failProvisioning(connectionId, leaseId, {
        ...(attempt.answered ? { httpStatus: attempt.status } : { error }),
        ...(problems === undefined ? {} : { problems }),
        note,
      });
      deps.recordGiveUp?.('provisioning');
      throw permanent(`provisioning: ${note}`);
    };
    switch (verdict.kind) {
      case 'success':
        break;
      case 'permanent':
      case 'reauthenticate':
        return giveUp(`the backend refused with HTTP ${status ?? 'none'}`);
      case 'retry': {
        const elapsed = deps.clock.now().getTime() - job.publishedAt.getTime();
        if (elapsed >= deps.settings.retryHorizonMs)
          return giveUp(`still failing after ${Math.round(elapsed / 1000)} s: giving up`);
        await repo.releaseProvisioningLease(connectionId, leaseId, {
          ...(status === undefined ? {} : { status }),
          error: error ?? `HTTP ${status}`,
        });
        throw retryLater(`provisioning answered ${status ?? error}`, verdict);
      }
    }
    const read = readProvisionAnswer(attempt.answered ? attempt.body : '');
    if ('problems' in read)
      return giveUp(
        `the backend's answer breaks the contract: ${formatIssues(read.problems)}`,
        read.problems,
      );
    const { accountId, credentials } = read.answer;
    const names = Object.keys(credentials ?? {});
    if (names.length > 0 && deps.sealer === undefined)
      return giveUp('the backend answered credentials, but no PROVISIONING_CREDENTIALS_KEY is set');
    const done = await repo.completeProvisioning(
      connectionId,
      leaseId,
      {
        httpStatus: status,
        accountId,
        ...(credentials === undefined || names.length === 0 || deps.sealer === undefined
          ? {}
          : { credentials: { names, sealed: deps.sealer.seal(credentials, connectionId) } }),
      },
      deps.settings.callbackLeaseMs,
    );
    if (done === null) return advance(await mustGet(connectionId), job, log);
    log.info({ accountId, credentials: names.length }, 'account provisioned');
    return sendCallback(done.connection, 'approved', job, log, done.callbackLease ?? undefined);
  }

  /** The callback's body: the decision, the account's credentials, or the suspension's reason. */
  function callbackBody(connection: ConnectionDocument, from: CallbackDueState) {
    if (from === 'approved') {
      const sealed = connection.provisioning?.credentials;
      if (sealed === undefined) return { status: 'accepted' } as ConnectionCallbackBody;
      if (deps.sealer === undefined)
        throw new AppError(
          ERROR_CODES.configInvalid,
          'sealed credentials wait to be sent, but no PROVISIONING_CREDENTIALS_KEY is set',
          { permanent: true },
        );
      return {
        status: 'accepted',
        auth: deps.sealer.open(sealed, connection.connectionId),
      } as ConnectionCallbackBody;
    }
    const reason =
      from === 'suspending'
        ? connection.suspension?.reason
        : (connection.decision?.reason ?? DEFAULT_REJECTION_REASON);
    return {
      status: 'rejected',
      error: reason ?? DEFAULT_REJECTION_REASON,
    } as ConnectionCallbackBody;
  }

  async function sendCallback(
    connection: ConnectionDocument,
    from: CallbackDueState,
    job: JobContext,
    log: Logger,
    taken: AcquiredLease | undefined,
  ): Promise<ProcessResult> {
    const connectionId = connection.connectionId;
    const leaseMs = deps.settings.callbackLeaseMs;
    const lease = taken ?? (await repo.acquireCallbackLease(connectionId, from, leaseMs));
    if (lease === null) {
      const now = await mustGet(connectionId);
      if (now.state !== from) return advance(now, job, log);
      // Another run holds a live lease on this callback: let it finish, look again later.
      throw new RetryLaterError('another worker is sending this callback', leaseMs);
    }
    const { leaseId } = lease;
    if (lease.previousLeaseId !== undefined) {
      // An earlier attempt never wrote its end: if it recorded one beside the jobs, the callback
      // went out and only the database write is missing. Write that instead of calling again.
      const earlier = await deps.ledger.outcomeOf<CallbackEnd>(lease.previousLeaseId, {
        abandon: true,
      });
      if (earlier !== null) {
        log.warn(
          { outcome: earlier.outcome, status: earlier.status },
          'callback already sent by an earlier attempt: recording its outcome, not sending again',
        );
        return finish(connection, leaseId, from, earlier, log);
      }
    }
    let body: ConnectionCallbackBody;
    try {
      body = callbackBody(connection, from);
    } catch (error) {
      // The credentials cannot be opened (the key changed): give up visibly; an operator restores
      // the key and retries.
      const reason = (error as Error).message;
      return finish(
        connection,
        leaseId,
        from,
        { outcome: 'failed', error: reason, giveUp: reason },
        log,
      );
    }
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
        return finish(
          connection,
          leaseId,
          from,
          {
            outcome: 'failed',
            error: reason,
            giveUp: refused
              ? `callback token refused: ${(error as Error).message}`
              : `callback token still failing after ${Math.round(elapsed / 1000)} s: giving up`,
          },
          log,
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
    const failed = (giveUp: string): CallbackEnd => ({
      outcome: 'failed',
      ...(attempt.answered
        ? { status: attempt.status, ...keptCallbackAnswer(attempt.body, body, outcome.sentWith) }
        : { error }),
      giveUp,
    });

    let end: CallbackEnd;
    switch (verdict.kind) {
      case 'success':
        end = { outcome: 'acknowledged', ...(status === undefined ? {} : { status }) };
        break;
      case 'permanent':
      case 'reauthenticate':
        end = failed(`callback refused with HTTP ${status ?? 'none'}`);
        break;
      case 'retry': {
        const elapsed = deps.clock.now().getTime() - job.publishedAt.getTime();
        if (elapsed >= deps.settings.retryHorizonMs) {
          end = failed(`callback still failing after ${Math.round(elapsed / 1000)} s: giving up`);
          break;
        }
        await repo.releaseCallbackLease(connectionId, leaseId, {
          ...(status === undefined ? {} : { status }),
          error: error ?? `HTTP ${status}`,
        });
        throw retryLater(`callback answered ${status ?? error}`, verdict);
      }
    }
    // The callback has ended: record that beside the jobs first, so a retry after a failed
    // database write finds it instead of sending again.
    if (!(await rememberCallEnd(deps.ledger, leaseId, end, log))) {
      return { connectionId, state: (await mustGet(connectionId)).state };
    }
    return finish(connection, leaseId, from, end, log);
  }

  /**
   * Writes the callback's end; a failed end fails the job for good, an acknowledged one goes on.
   * An acknowledged `accepted` is announced to the deprovision worker first, so the same write
   * records both; if the announcement cannot be published, the end is written without it and the
   * announcement is tried again (by this job's retry, or the reconciler).
   */
  async function finish(
    connection: ConnectionDocument,
    leaseId: string,
    from: CallbackDueState,
    end: CallbackEnd,
    log: Logger,
  ): Promise<ProcessResult> {
    const { connectionId } = connection;
    const { giveUp, ...result } = end;
    let announced = false;
    if (end.outcome === 'acknowledged' && from === 'approved') {
      announced = await publishAcceptance(connection).then(
        () => true,
        (error: unknown) => {
          log.warn({ err: error }, 'acceptance not announced yet: recording the callback first');
          return false;
        },
      );
    }
    const done = await repo.completeCallback(connectionId, leaseId, from, result, { announced });
    if (end.outcome === 'failed') {
      deps.recordGiveUp?.('callback');
      throw permanent(giveUp ?? 'callback failed');
    }
    if (done === null) return { connectionId, state: (await mustGet(connectionId)).state };
    if (announced) log.info('connection accepted and announced');
    else await announce(done, log);
    return { connectionId, state: done.state };
  }

  /** Publishes ConnectionAccepted (one job per connection, whatever the repeats). */
  async function publishAcceptance(connection: ConnectionDocument): Promise<void> {
    if (connection.subscriptionId === undefined)
      throw new Error(`connection ${connection.connectionId} has no subscription`);
    const message: ConnectionAcceptedJob = {
      connectionId: connection.connectionId,
      subscriptionId: connection.subscriptionId,
      acceptedAt: (
        connection.acceptedAt ??
        connection.callback?.completedAt ??
        deps.clock.now()
      ).toISOString(),
      requestId: connection.requestId ?? connection.connectionId,
    };
    await deps.announceAccepted(message, jobIdFor.connectionAccepted(message));
  }

  /**
   * Announces a connection recorded accepted (or being suspended) but not yet announced, and marks
   * it announced.
   */
  async function announce(connection: ConnectionDocument, log: Logger): Promise<void> {
    if (
      (connection.state !== 'accepted' && connection.state !== 'suspending') ||
      connection.acceptanceAnnounced === true ||
      connection.subscriptionId === undefined
    )
      return;
    await publishAcceptance(connection);
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

/**
 * What may be kept of Fortellis' answer to a failed callback: nothing when the callback carried
 * the buyer's credentials (an answer may quote what it was sent), else its body without the
 * bearer tokens it was sent with.
 */
export function keptCallbackAnswer(
  answer: string,
  sent: ConnectionCallbackBody,
  tokens: readonly string[],
): { body?: string } {
  if (sent.auth !== undefined) return {};
  return { body: redactedBody(answer, tokens) };
}

/** Retrying cannot change this: the job ends, failed, for operators to see. */
export function permanent(message: string): AppError {
  return new AppError(ERROR_CODES.upstreamFailed, message, { permanent: true });
}
