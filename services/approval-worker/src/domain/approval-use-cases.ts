// The approval worker's use cases, one per job: an activation (store once, decide by the rules),
// an operator's review decision, suspension, or retry of a failed callback or provisioning, and
// the reconciler's run and the stalled connections it finds. Each ends by moving the connection on
// (advance-connection.ts), so a redelivered job resumes where the last run stopped.
import {
  jobIdFor,
  type ActivateRequest,
  type ActivationReceivedJob,
  type RetryRequestedJob,
  type ReviewDecidedJob,
  type StalledConnectionFoundJob,
  type SuspensionRequestedJob,
} from '@fortellis-admin/contracts';
import {
  callbackFailedBefore,
  getOrThrow,
  provisioningFailedBefore,
  type ConnectionDocument,
} from '@fortellis-admin/connection-store';
import { reconcileStalled, type Logger } from '@fortellis-admin/service-kit/pure';
import type { JobContext } from '@fortellis-admin/service-kit/pure';
import { advanceConnection } from './advance-connection.ts';
import type { ApprovalUseCaseDeps, ProcessResult } from './approval-ports.ts';
import { decide } from '@fortellis-admin/approval-rules';

/** The jobs that move a connection on in the approval queue, when live. */
export function approvalJobIdsOf(connectionId: string): string[] {
  return [
    jobIdFor.activationReceived({ activation: { connectionId } as ActivateRequest }),
    jobIdFor.reviewDecided({ connectionId }),
    jobIdFor.suspensionRequested({ connectionId }),
  ];
}

/**
 * Stores an activation once and decides it by the rules; an activation seen before is decided if
 * it is still `received`. Either way the connection is moved on.
 */
export async function handleActivation(
  deps: ApprovalUseCaseDeps,
  data: ActivationReceivedJob,
  job: JobContext,
  log: Logger,
): Promise<ProcessResult> {
  const connectionId = data.activation.connectionId;
  // The rules are pure: decide first, so one insert stores the activation, its decision and the
  // callback's lease.
  const decision = decide(deps.policy, data.activation);
  const recorded = await deps.repo.recordActivation(
    {
      activation: data.activation,
      requestId: data.requestId,
      receivedAt: new Date(data.receivedAt),
    },
    {
      decision: { ...decision, decidedBy: 'rules', decidedAt: deps.clock.now() },
      callbackLeaseMs: deps.settings.callbackLeaseMs,
      ...(deps.provisioner.kind === 'http'
        ? { provisioningLeaseMs: deps.settings.provisioningLeaseMs }
        : {}),
    },
  );
  switch (recorded.kind) {
    case 'stale':
      log.warn('activation for a connection already deactivated: recorded, not acted on');
      return { connectionId, state: recorded.connection.state };
    case 'created':
      log.info({ action: decision.action, ruleId: decision.ruleId }, 'activation decided');
      return advanceConnection(
        deps,
        recorded.connection,
        job,
        log,
        recorded.lease === undefined || recorded.leaseFor === undefined
          ? undefined
          : { lease: recorded.lease, for: recorded.leaseFor },
      );
    case 'existing':
      return advanceConnection(
        deps,
        await decideByRules(deps, recorded.connection, data.activation, log),
        job,
        log,
      );
  }
}

/** Applies the rules to a connection still `received`; any other is returned as it is. */
async function decideByRules(
  deps: ApprovalUseCaseDeps,
  connection: ConnectionDocument,
  activation: ActivateRequest,
  log: Logger,
): Promise<ConnectionDocument> {
  if (connection.state !== 'received') return connection;
  const decision = decide(deps.policy, activation);
  const decided = await deps.repo.recordDecision(
    connection.connectionId,
    { ...decision, decidedBy: 'rules', decidedAt: deps.clock.now() },
    ['received'],
  );
  log.info({ action: decision.action, ruleId: decision.ruleId }, 'activation decided');
  return decided ?? (await getOrThrow(deps.repo, connection.connectionId));
}

/** Records an operator's decision on a connection held for review, and moves it on. */
export async function handleReviewDecision(
  deps: ApprovalUseCaseDeps,
  data: ReviewDecidedJob,
  job: JobContext,
  log: Logger,
): Promise<ProcessResult> {
  let connection = await getOrThrow(deps.repo, data.connectionId);
  if (connection.state === 'pending_review') {
    connection =
      (await deps.repo.recordDecision(
        data.connectionId,
        {
          action: data.action,
          ruleId: 'operator',
          ...(data.reason === undefined ? {} : { reason: data.reason }),
          decidedBy: data.actor,
          decidedAt: new Date(data.decidedAt),
        },
        ['pending_review'],
      )) ?? (await getOrThrow(deps.repo, data.connectionId));
    log.info({ action: data.action, actor: data.actor }, 'review decided');
  }
  return advanceConnection(deps, connection, job, log);
}

/**
 * The operators' service recorded the suspension (accepted → suspending) before publishing this
 * job: what is left is the `rejected` callback, sent like any other.
 */
export async function handleSuspension(
  deps: ApprovalUseCaseDeps,
  data: SuspensionRequestedJob,
  job: JobContext,
  log: Logger,
): Promise<ProcessResult> {
  const connection = await getOrThrow(deps.repo, data.connectionId);
  log.info({ actor: data.actor, state: connection.state }, 'suspension requested');
  return advanceConnection(deps, connection, job, log);
}

/**
 * An operator's retry: reopens a failed callback, or a failed provisioning, and moves the
 * connection on. The operator's request was published first; the call is reopened here, so a
 * failed publish leaves the connection as it was, never reopened with nothing to send it.
 */
export async function handleRetryRequested(
  deps: ApprovalUseCaseDeps,
  data: RetryRequestedJob,
  job: JobContext,
  log: Logger,
): Promise<ProcessResult> {
  let connection = await getOrThrow(deps.repo, data.connectionId);
  const requestedAt = new Date(data.requestedAt);
  if (callbackFailedBefore(connection, requestedAt)) {
    connection =
      (await deps.repo.reopenCallback(data.connectionId, data.actor)) ??
      (await getOrThrow(deps.repo, data.connectionId));
    log.info({ actor: data.actor }, 'callback reopened by an operator');
  } else if (provisioningFailedBefore(connection, requestedAt)) {
    connection =
      (await deps.repo.reopenProvisioning(data.connectionId, data.actor)) ??
      (await getOrThrow(deps.repo, data.connectionId));
    log.info({ actor: data.actor }, 'provisioning reopened by an operator');
  }
  log.info({ actor: data.actor, state: connection.state }, 'retrying the callback');
  return advanceConnection(deps, connection, job, log);
}

/** A connection the reconciler found stalled: decided if it still waits for the rules, moved on. */
export async function handleStalledConnection(
  deps: ApprovalUseCaseDeps,
  data: StalledConnectionFoundJob,
  job: JobContext,
  log: Logger,
): Promise<ProcessResult> {
  const connection = await getOrThrow(deps.repo, data.connectionId);
  log.info({ state: connection.state }, 'moving a stalled connection on');
  return advanceConnection(
    deps,
    connection.activation === undefined
      ? connection
      : await decideByRules(deps, connection, connection.activation, log),
    job,
    log,
  );
}

/** The reconciler's run: publishes the connections that stalled. */
export function handleReconciliation(
  deps: ApprovalUseCaseDeps,
  log: Logger,
): Promise<{ found: number; published: number }> {
  return reconcileStalled(
    {
      findStalled: (since, limit) => deps.repo.findStalled('approval', since, limit),
      liveJobIdsOf: approvalJobIdsOf,
      jobs: deps.reconcilerJobs,
      clock: deps.clock,
      settings: deps.settings.reconcile,
    },
    log,
  );
}
