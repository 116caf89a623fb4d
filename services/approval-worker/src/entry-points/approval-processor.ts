// The approval worker's job processor: ActivationReceived and ReviewDecided. Each step is a
// conditional transition on the connection, so a redelivered job resumes where the last run
// stopped and two runs of the same job can never both send a callback.
import { UnrecoverableError, type Job } from 'bullmq';
import {
  contracts,
  JOB_NAMES,
  jobIdFor,
  type ConnectionAcceptedJob,
  type ConnectionCallbackBody,
} from '@fortellis-admin/contracts';
import { type Logger } from '@fortellis-admin/service-kit';
import {
  attemptWithToken,
  classifyCallback,
  parseJobData,
  RetryLaterError,
  retryAfterOf,
  statusOf,
  type ClientCredentialsTokenClient,
  type OutsideCallRecorder,
} from '@fortellis-admin/service-kit';
import {
  type ConnectionDocument,
  type ConnectionRepository,
} from '@fortellis-admin/connection-store';
import { decide, DEFAULT_REJECTION_REASON, type ApprovalPolicy } from '../domain/approval-rules.ts';
import type { CallbackAttempt, CallbackClient } from '../data-access/callback-client.ts';

export interface ApprovalProcessorDeps {
  repo: ConnectionRepository;
  policy: ApprovalPolicy;
  callbacks: Pick<CallbackClient, 'send'>;
  tokens: Pick<ClientCredentialsTokenClient, 'token' | 'invalidate'>;
  /** Publishes ConnectionAccepted for the deprovision worker. */
  announceAccepted(job: ConnectionAcceptedJob, jobId: string): Promise<void>;
  logger: Logger;
  clock: { now(): Date };
  settings: { retryHorizonMs: number; callbackTimeoutMs: number };
  /** Counts each callback attempt by outcome, when metrics are collected. */
  recordCall?: OutsideCallRecorder;
}

export interface ProcessResult {
  connectionId: string;
  state: string;
}

export function createApprovalProcessor(deps: ApprovalProcessorDeps) {
  const { repo, logger } = deps;

  async function processActivation(job: Job, log: Logger): Promise<ProcessResult> {
    const data = parseJobData(contracts.activationReceivedJob.parse, job.data);
    const connectionId = data.activation.connectionId;
    const recorded = await repo.recordActivation({
      activation: data.activation,
      requestId: data.requestId,
      receivedAt: new Date(data.receivedAt),
    });
    if (recorded.kind === 'stale') {
      log.warn('activation for a connection already deactivated: recorded, not acted on');
      return { connectionId, state: recorded.connection.state };
    }
    let connection = recorded.connection;
    if (connection.state === 'received') {
      const decision = decide(deps.policy, data.activation);
      connection =
        (await repo.decide(
          connectionId,
          { ...decision, decidedBy: 'rules', decidedAt: deps.clock.now() },
          ['received'],
        )) ?? (await mustGet(connectionId));
      log.info({ action: decision.action, ruleId: decision.ruleId }, 'activation decided');
    }
    return advance(connection, job, log);
  }

  async function processReviewDecision(job: Job, log: Logger): Promise<ProcessResult> {
    const data = parseJobData(contracts.reviewDecidedJob.parse, job.data);
    let connection = await repo.get(data.connectionId);
    if (connection === null)
      throw new UnrecoverableError(`connection ${data.connectionId} is unknown`);
    if (connection.state === 'pending_review') {
      connection =
        (await repo.decide(
          data.connectionId,
          {
            action: data.action,
            ruleId: 'operator',
            ...(data.reason === undefined ? {} : { reason: data.reason }),
            decidedBy: data.actor,
            decidedAt: new Date(data.decidedAt),
          },
          ['pending_review'],
        )) ?? (await mustGet(data.connectionId));
      log.info({ action: data.action, actor: data.actor }, 'review decided');
    }
    return advance(connection, job, log);
  }

  /** An operator reopened a failed callback: send it again from the decided state. */
  async function processCallbackRetry(job: Job, log: Logger): Promise<ProcessResult> {
    const data = parseJobData(contracts.retryRequestedJob.parse, job.data);
    const connection = await repo.get(data.connectionId);
    if (connection === null)
      throw new UnrecoverableError(`connection ${data.connectionId} is unknown`);
    log.info({ actor: data.actor, state: connection.state }, 'retrying the callback');
    return advance(connection, job, log);
  }

  /** Moves a connection on from wherever it is: sends the due callback, or does nothing. */
  async function advance(
    connection: ConnectionDocument,
    job: Job,
    log: Logger,
  ): Promise<ProcessResult> {
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
  }

  async function sendCallback(
    connection: ConnectionDocument,
    from: 'approved' | 'rejected',
    job: Job,
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
    const requestId = connection.requestId ?? job.id ?? connectionId;

    let outcome;
    try {
      outcome = await attemptWithToken(
        deps.tokens,
        (token) => deps.callbacks.send(connectionId, body, token, requestId),
        (answer, reauthenticated) =>
          classifyCallback(statusOf(answer), retryAfterOf(answer), reauthenticated),
      );
    } catch (error) {
      // The token endpoint failed: give the lease back and let BullMQ retry.
      await repo.releaseCallbackLease(connectionId, leaseId, {
        error: `token: ${(error as Error).message}`,
      });
      throw error;
    }
    const { attempt, verdict } = outcome;
    deps.recordCall?.('callback', verdict.kind);
    if (outcome.reauthenticated) log.info('callback token was refused: a new one was fetched');
    const status = statusOf(attempt);
    const error = attempt.answered ? undefined : attempt.error;
    log.info(
      { callback: body.status, status, error, attempt: job.attemptsMade + 1 },
      'callback attempt',
    );

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
        throw new UnrecoverableError(`callback refused with HTTP ${status ?? 'none'}`);
      }
      case 'retry': {
        const elapsed = deps.clock.now().getTime() - job.timestamp;
        if (elapsed >= deps.settings.retryHorizonMs) {
          await fail(connectionId, leaseId, from, attempt);
          throw new UnrecoverableError(
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
    from: 'approved' | 'rejected',
    attempt: CallbackAttempt,
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

  return async function processApprovalJob(job: Job): Promise<ProcessResult> {
    const data = job.data as {
      activation?: { connectionId?: unknown };
      connectionId?: unknown;
      requestId?: unknown;
    };
    const log = logger.child({
      jobId: job.id,
      job: job.name,
      connectionId: data.activation?.connectionId ?? data.connectionId,
      requestId: data.requestId,
    });
    switch (job.name) {
      case JOB_NAMES.activationReceived:
        return processActivation(job, log);
      case JOB_NAMES.reviewDecided:
        return processReviewDecision(job, log);
      case JOB_NAMES.callbackRetryRequested:
        return processCallbackRetry(job, log);
      default:
        throw new UnrecoverableError(`the approval queue does not handle ${job.name} jobs`);
    }
  };
}
