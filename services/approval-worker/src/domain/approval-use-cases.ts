// The approval worker's use cases, one per job: an activation (store once, decide by the rules),
// an operator's review decision, and an operator's retry of a failed callback. Each ends by moving
// the connection on (advance-connection.ts), so a redelivered job resumes where the last run stopped.
import {
  AppError,
  ERROR_CODES,
  type ActivationReceivedJob,
  type RetryRequestedJob,
  type ReviewDecidedJob,
} from '@fortellis-admin/contracts';
import type { ConnectionDocument } from '@fortellis-admin/connection-store';
import type { JobContext, Logger } from '@fortellis-admin/service-kit';
import { createAdvanceConnection } from './advance-connection.ts';
import type { ApprovalUseCaseDeps, ProcessResult } from './approval-ports.ts';
import { decide } from './approval-rules.ts';

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
  handleCallbackRetry(
    data: RetryRequestedJob,
    job: JobContext,
    log: Logger,
  ): Promise<ProcessResult>;
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

  return {
    async handleActivation(data, job, log) {
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
          )) ?? (await current(connectionId));
        log.info({ action: decision.action, ruleId: decision.ruleId }, 'activation decided');
      }
      return advance(connection, job, log);
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

    async handleCallbackRetry(data, job, log) {
      const connection = await known(data.connectionId);
      log.info({ actor: data.actor, state: connection.state }, 'retrying the callback');
      return advance(connection, job, log);
    },
  };
}
