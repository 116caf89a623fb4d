// The operations API (read side): list connections with filters and cursor pagination, and show
// one connection with its decision, callback, deprovision steps and history.
import type { FastifyPluginAsync } from 'fastify';
import {
  AppError,
  JOB_NAMES,
  jobIdFor,
  ContractViolationError,
  ERROR_CODES,
  type RetryRequestedJob,
  type ReviewDecidedJob,
} from '@fortellis-admin/contracts';
import {
  CONNECTION_STATES,
  type ConnectionDocument,
  type ConnectionFilter,
  type ConnectionRepository,
  type ListCursor,
} from '@fortellis-admin/connection-store';
import type { Registry } from 'prom-client';
import type { JobPublisher } from '../data-access/job-publisher.ts';

export interface OpsRoutesOptions {
  repo: Pick<
    ConnectionRepository,
    'list' | 'get' | 'recordOperatorAction' | 'reopenCallback' | 'reopenFailedSteps'
  >;
  publisher: Pick<JobPublisher, 'publish'>;
  now: () => Date;
  /** The ingress's metrics, served at /metrics for an authenticated scraper. */
  registry?: Registry;
}

export const DEFAULT_PAGE_SIZE = 50;
export const MAX_PAGE_SIZE = 200;

/** A connection as listed: what an operator scans for, without payload or internals. */
export function connectionSummary(connection: ConnectionDocument) {
  return {
    connectionId: connection.connectionId,
    subscriptionId: connection.subscriptionId ?? null,
    organizationId: connection.organizationId ?? null,
    organizationName: connection.activation?.organizationInfo.name ?? null,
    apiId: connection.apiId ?? null,
    state: connection.state,
    decision: connection.decision ?? null,
    createdAt: connection.createdAt.toISOString(),
    updatedAt: connection.updatedAt.toISOString(),
  };
}

/** A connection in full, without the lease bookkeeping of the workers. */
export function connectionDetail(connection: ConnectionDocument) {
  const { _id: _key, callback, steps, ...rest } = connection;
  const withoutLease = <T extends { leaseId?: string; leaseUntil?: Date }>(record: T) => {
    const { leaseId: _leaseId, leaseUntil: _leaseUntil, ...kept } = record;
    return kept;
  };
  return {
    ...rest,
    callback: callback === undefined ? null : withoutLease(callback),
    steps: Object.fromEntries(
      Object.entries(steps ?? {}).map(([step, record]) => [step, withoutLease(record)]),
    ),
  };
}

export function encodeCursor(cursor: ListCursor): string {
  return Buffer.from(`${cursor.createdAt.toISOString()}|${cursor.id}`).toString('base64url');
}

export function decodeCursor(raw: string): ListCursor {
  const [at, id] = Buffer.from(raw, 'base64url').toString('utf8').split('|');
  const createdAt = new Date(at ?? '');
  if (id === undefined || id === '' || Number.isNaN(createdAt.getTime())) {
    throw new ContractViolationError('cursor', [
      { pointer: '/cursor', message: 'is not a cursor this API gave out' },
    ]);
  }
  return { createdAt, id };
}

const listQuerySchema = {
  type: 'object',
  properties: {
    state: { type: 'string', enum: CONNECTION_STATES },
    subscriptionId: { type: 'string', minLength: 1 },
    organizationId: { type: 'string', minLength: 1 },
    apiId: { type: 'string', minLength: 1 },
    limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE },
    cursor: { type: 'string', minLength: 1 },
  },
  additionalProperties: false,
} as const;

interface ListQuery extends ConnectionFilter {
  limit: number;
  cursor?: string;
}

export const opsRoutes: FastifyPluginAsync<OpsRoutesOptions> = async (app, options) => {
  // Fastify's own validation errors become the API's 400 answer.
  app.setSchemaErrorFormatter((errors, dataVar) => {
    const issues = errors.map((error) => ({
      pointer: `/${(error.params as { additionalProperty?: string }).additionalProperty ?? error.instancePath.replace(/^\//, '')}`,
      message: error.message ?? 'is invalid',
    }));
    return new ContractViolationError(dataVar, issues);
  });

  app.get<{ Querystring: ListQuery }>(
    '/ops/connections',
    {
      schema: {
        summary: 'List connections, newest first, with filters and a cursor',
        querystring: listQuerySchema,
      },
    },
    async (request) => {
      const { limit, cursor, ...filter } = request.query;
      const page = await options.repo.list(
        filter,
        limit,
        cursor === undefined ? undefined : decodeCursor(cursor),
      );
      const items = page.slice(0, limit);
      const last = items.at(-1);
      return {
        items: items.map(connectionSummary),
        nextCursor:
          page.length > limit && last !== undefined
            ? encodeCursor({ createdAt: last.createdAt, id: last._id })
            : null,
      };
    },
  );

  app.get<{ Params: { connectionId: string } }>(
    '/ops/connections/:connectionId',
    {
      schema: {
        summary: 'One connection: payload, decision, callback, steps, history',
        params: {
          type: 'object',
          required: ['connectionId'],
          properties: { connectionId: { type: 'string' } },
        },
      },
    },
    async (request) => {
      const connection = await options.repo.get(request.params.connectionId);
      if (connection === null) {
        throw new AppError(ERROR_CODES.notFound, `no connection ${request.params.connectionId}`, {
          httpStatus: 404,
        });
      }
      return connectionDetail(connection);
    },
  );

  const decide = async (
    connectionId: string,
    operator: string,
    action: 'approve' | 'reject',
    requestId: string,
    reason?: string,
  ) => {
    const actor = `ops:${operator}`;
    const recorded = await options.repo.recordOperatorAction(
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
      decidedAt: options.now().toISOString(),
      requestId,
      ...(reason === undefined ? {} : { reason }),
    };
    await options.publisher.publish(JOB_NAMES.reviewDecided, job, jobIdFor.reviewDecided(job));
    return { connectionId: job.connectionId, action, actor, status: 'queued' };
  };

  app.post<{ Params: { connectionId: string } }>(
    '/ops/connections/:connectionId/approve',
    {
      schema: {
        summary: 'Approve a connection held for review',
        params: {
          type: 'object',
          required: ['connectionId'],
          properties: { connectionId: { type: 'string' } },
        },
      },
    },
    async (request, reply) =>
      reply
        .code(202)
        .send(
          await decide(request.params.connectionId, request.operator ?? '', 'approve', request.id),
        ),
  );

  app.post<{ Params: { connectionId: string }; Body: { reason: string } }>(
    '/ops/connections/:connectionId/reject',
    {
      schema: {
        summary: 'Reject a connection held for review, with a reason',
        body: {
          type: 'object',
          required: ['reason'],
          properties: { reason: { type: 'string', minLength: 1, maxLength: 500 } },
          additionalProperties: false,
        },
      },
    },
    async (request, reply) =>
      reply
        .code(202)
        .send(
          await decide(
            request.params.connectionId,
            request.operator ?? '',
            'reject',
            request.id,
            request.body.reason,
          ),
        ),
  );

  // Re-runs what failed: the callback (callback_failed), else the deprovision steps that failed.
  app.post<{ Params: { connectionId: string } }>(
    '/ops/connections/:connectionId/retry',
    {
      schema: {
        summary: 'Re-run a failed callback or failed deprovision steps',
        params: {
          type: 'object',
          required: ['connectionId'],
          properties: { connectionId: { type: 'string' } },
        },
      },
    },
    async (request, reply) => {
      const { connectionId } = request.params;
      const actor = `ops:${request.operator ?? ''}`;
      const connection = await options.repo.get(connectionId);
      if (connection === null)
        throw new AppError(ERROR_CODES.notFound, `no connection ${connectionId}`, {
          httpStatus: 404,
        });
      const job: RetryRequestedJob = {
        connectionId: connection.connectionId,
        actor,
        requestedAt: options.now().toISOString(),
        requestId: request.id,
      };
      if (
        connection.state === 'callback_failed' &&
        (await options.repo.reopenCallback(connectionId, actor)) !== null
      ) {
        await options.publisher.publish(
          JOB_NAMES.callbackRetryRequested,
          job,
          jobIdFor.retryRequested('callback', job),
        );
        return reply
          .code(202)
          .send({ connectionId: job.connectionId, retried: ['callback'], actor, status: 'queued' });
      }
      const steps = await options.repo.reopenFailedSteps(connectionId, actor);
      if (steps.length > 0) {
        await options.publisher.publish(
          JOB_NAMES.deprovisionRetryRequested,
          job,
          jobIdFor.retryRequested('deprovision', job),
        );
        return reply
          .code(202)
          .send({ connectionId: job.connectionId, retried: steps, actor, status: 'queued' });
      }
      throw new AppError(
        ERROR_CODES.conflict,
        `connection is ${connection.state} with nothing failed to retry`,
        { httpStatus: 409 },
      );
    },
  );

  // What the tutorial's Admin API offered, done right: authenticated, from the durable store, and
  // a dismissal that tells Fortellis (a rejected callback) instead of silently dropping the request.
  app.get(
    '/ops/connection-requests',
    { schema: { summary: 'Activations waiting for review' } },
    async () => {
      const held = await options.repo.list({ state: 'pending_review' }, MAX_PAGE_SIZE);
      return {
        connectionRequests: held
          .slice(0, MAX_PAGE_SIZE)
          .map((c) => ({ ...c.activation, receivedAt: c.receivedAt?.toISOString() ?? null })),
      };
    },
  );

  app.get(
    '/ops/deactivation-requests',
    { schema: { summary: 'Deactivations and their step outcomes' } },
    async () => {
      const gone = await options.repo.list({ state: 'deactivated' }, MAX_PAGE_SIZE);
      return {
        deactivationRequests: gone.slice(0, MAX_PAGE_SIZE).map((c) => ({
          connectionId: c.connectionId,
          subscriptionId: c.subscriptionId ?? null,
          receivedAt: c.deactivation?.receivedAt.toISOString() ?? null,
          neverActivated: c.activation === undefined,
          steps: Object.fromEntries(
            Object.entries(c.steps ?? {}).map(([step, record]) => [
              step,
              record.status ?? 'pending',
            ]),
          ),
        })),
      };
    },
  );

  app.post<{ Body: { subscriptionId: string; reason?: string } }>(
    '/ops/connection-requests/dismiss',
    {
      schema: {
        summary: 'Dismiss the waiting requests of a subscription (sends rejected)',
        body: {
          type: 'object',
          required: ['subscriptionId'],
          properties: {
            subscriptionId: { type: 'string', minLength: 1 },
            reason: { type: 'string', minLength: 1, maxLength: 500 },
          },
          additionalProperties: false,
        },
      },
    },
    async (request, reply) => {
      const held = await options.repo.list(
        { state: 'pending_review', subscriptionId: request.body.subscriptionId },
        MAX_PAGE_SIZE,
      );
      if (held.length === 0) {
        throw new AppError(
          ERROR_CODES.notFound,
          `no connection request of subscription ${request.body.subscriptionId} is waiting`,
          { httpStatus: 404 },
        );
      }
      const reason = request.body.reason ?? 'The provider declined this subscription.';
      const dismissed = [];
      for (const connection of held.slice(0, MAX_PAGE_SIZE)) {
        dismissed.push(
          (
            await decide(
              connection.connectionId,
              request.operator ?? '',
              'reject',
              request.id,
              reason,
            )
          ).connectionId,
        );
      }
      return reply
        .code(202)
        .send({ subscriptionId: request.body.subscriptionId, dismissed, status: 'queued' });
    },
  );

  app.get('/ops/docs', { schema: { summary: 'This OpenAPI document' } }, async () => app.swagger());

  app.get(
    '/metrics',
    { schema: { summary: 'Prometheus metrics of the ingress' } },
    async (_request, reply) => {
      if (options.registry === undefined)
        throw new AppError(ERROR_CODES.notFound, 'metrics are not collected', { httpStatus: 404 });
      return reply.type(options.registry.contentType).send(await options.registry.metrics());
    },
  );
};
