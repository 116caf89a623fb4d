// The approval worker's use cases, one per job: an activation (store once, decide by the rules),
// an operator's review decision, suspension, or retry of a failed callback or provisioning, and
// the reconciler's run and the stalled connections it finds. Each ends by moving the connection on
// (advance-connection.ts), so a redelivered job resumes where the last run stopped.
import {
  AppError,
  ERROR_CODES,
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
  provisioningFailedBefore,
  type ConnectionDocument,
} from '@fortellis-admin/connection-store';
import { reconcileStalled, type JobContext, type Logger } from '@fortellis-admin/service-kit';
import { createAdvanceConnection } from './advance-connection.ts';
import type { ApprovalUseCaseDeps, ProcessResult } from './approval-ports.ts';
import { decide } from '@fortellis-admin/approval-rules';

export interface ApprovalUseCases {
  handleActivation(
    data: ActivationReceivedJob,
    job: JobContext,
    log: Logger,
  ): Promise<ProcessResult>;
  handleReviewDecision(
    data: ReviewDecidedJob,
    job: JobContext,
    log: Logger,
  ): Promise<ProcessResult>;
  handleSuspension(
    data: SuspensionRequestedJob,
    job: JobContext,
    log: Logger,
  ): Promise<ProcessResult>;
  handleCallbackRetry(
    data: RetryRequestedJob,
    job: JobContext,
    log: Logger,
  ): Promise<ProcessResult>;
  handleStalledConnection(
    data: StalledConnectionFoundJob,
    job: JobContext,
    log: Logger,
  ): Promise<ProcessResult>;
  handleReconciliation(log: Logger): Promise<{ found: number; published: number }>;
}

/** The jobs that move a connection on in the approval queue, when live. */
export function approvalJobIdsOf(connectionId: string): string[] {
  return [
    jobIdFor.activationReceived({ activation: { connectionId } as ActivateRequest }),
    jobIdFor.reviewDecided({ connectionId }),
    jobIdFor.suspensionRequested({ connectionId }),
  ];
}

export function createApprovalUseCases(deps: ApprovalUseCaseDeps): ApprovalUseCases {
  const { repo } = deps;
  const advance = createAdvanceConnection(deps);

  async function known(connectionId: string): Promise<ConnectionDocument> {
    const connection = await repo.get(connectionId);
    if (connection === null)
      throw new AppError(ERROR_CODES.notFound, `connection ${connectionId} is unknown`, {
        permanent: true,
      });
    return connection;
  }

  async function current(connectionId: string): Promise<ConnectionDocument> {
    const found = await repo.get(connectionId);
    if (found === null) throw new Error(`connection ${connectionId} disappeared`);
    return found;
  }

  /** Applies the rules to a connection still `received`; any other is returned as it is. */
  async function decideByRules(
    connection: ConnectionDocument,
    activation: ActivateRequest,
    log: Logger,
  ): Promise<ConnectionDocument> {
    if (connection.state !== 'received') return connection;
    const decision = decide(deps.policy, activation);
    const decided = await repo.decide(
      connection.connectionId,
      { ...decision, decidedBy: 'rules', decidedAt: deps.clock.now() },
      ['received'],
    );
    log.info({ action: decision.action, ruleId: decision.ruleId }, 'activation decided');
    return decided ?? (await current(connection.connectionId));
  }

  return {
    async handleActivation(data, job, log) {
      const connectionId = data.activation.connectionId;
      // The rules are pure: decide first, so one insert stores the activation, its decision and
      // the callback's lease.
      const decision = decide(deps.policy, data.activation);
      const recorded = await repo.recordActivation(
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
          return advance(
            recorded.connection,
            job,
            log,
            recorded.lease === undefined || recorded.leaseFor === undefined
              ? undefined
              : { lease: recorded.lease, for: recorded.leaseFor },
          );
        case 'existing':
          return advance(await decideByRules(recorded.connection, data.activation, log), job, log);
      }
    },

    async handleReviewDecision(data, job, log) {
      let connection = await known(data.connectionId);
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
          )) ?? (await current(data.connectionId));
        log.info({ action: data.action, actor: data.actor }, 'review decided');
      }
      return advance(connection, job, log);
    },

    async handleSuspension(data, job, log) {
      // The operators' service recorded the suspension (accepted → suspending) before publishing
      // this job: what is left is the `rejected` callback, sent like any other.
      const connection = await known(data.connectionId);
      log.info({ actor: data.actor, state: connection.state }, 'suspension requested');
      return advance(connection, job, log);
    },

    async handleCallbackRetry(data, job, log) {
      // The operator's request was published first; the callback is reopened here, so a failed
      // publish leaves the connection as it was, never reopened with nothing to send it.
      let connection = await known(data.connectionId);
      const requestedAt = new Date(data.requestedAt);
      if (callbackFailedBefore(connection, requestedAt)) {
        connection =
          (await repo.reopenCallback(data.connectionId, data.actor)) ??
          (await current(data.connectionId));
        log.info({ actor: data.actor }, 'callback reopened by an operator');
      } else if (provisioningFailedBefore(connection, requestedAt)) {
        connection =
          (await repo.reopenProvisioning(data.connectionId, data.actor)) ??
          (await current(data.connectionId));
        log.info({ actor: data.actor }, 'provisioning reopened by an operator');
      }
      log.info({ actor: data.actor, state: connection.state }, 'retrying the callback');
      return advance(connection, job, log);
    },

    async handleStalledConnection(data, job, log) {
      const connection = await known(data.connectionId);
      log.info({ state: connection.state }, 'moving a stalled connection on');
      return advance(
        connection.activation === undefined
          ? connection
          : await decideByRules(connection, connection.activation, log),
        job,
        log,
      );
    },

    handleReconciliation(log) {
      return reconcileStalled(
        {
          findStalled: (since, limit) => repo.findStalled('approval', since, limit),
          liveJobIdsOf: approvalJobIdsOf,
          jobs: deps.reconcilerJobs,
          clock: deps.clock,
          settings: deps.settings.reconcile,
        },
        log,
      );
    },
  };
}
