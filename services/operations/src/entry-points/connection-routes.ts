// The operations API's read side: list connections with filters and cursor pagination, show one
// connection with its decision, callback, deprovision steps and history, tell its whole story as a
// timeline (with what an operator may do now), and find connections by any id.
import type { FastifyPluginAsync } from 'fastify';
import {
  CONNECTION_STATES,
  getOrThrow,
  noSuchConnection,
  type ConnectionDocument,
  type ConnectionFilter,
} from '@fortellis-admin/connection-store';
import { connectionPage, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE } from '../domain/connection-pages.ts';
import {
  connectionIdentity,
  connectionTimeline,
  searchConnections,
} from '../domain/connection-timeline.ts';
import type { OperationsRepository } from '../domain/ports.ts';

/** A connection as listed: what an operator scans for, without payload or internals. */
export function connectionSummary(connection: ConnectionDocument) {
  return {
    ...connectionIdentity(connection),
    decision: connection.decision ?? null,
    createdAt: connection.createdAt.toISOString(),
    updatedAt: connection.updatedAt.toISOString(),
  };
}

/**
 * A connection in full, without the lease bookkeeping of the workers and without the buyer's
 * sealed credentials (only their names).
 */
export function connectionDetail(connection: ConnectionDocument) {
  const { _id: _key, callback, steps, provisioning, ...rest } = connection;
  const withoutLease = <T extends { leaseId?: string; leaseUntil?: Date }>(record: T) => {
    const { leaseId: _leaseId, leaseUntil: _leaseUntil, ...kept } = record;
    return kept;
  };
  const { credentials: _sealed, ...account } = provisioning ?? {};
  return {
    ...rest,
    callback: callback === undefined ? null : withoutLease(callback),
    provisioning: provisioning === undefined ? null : withoutLease(account),
    steps: Object.fromEntries(
      Object.entries(steps ?? {}).map(([step, record]) => [step, withoutLease(record)]),
    ),
  };
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

/** The `{connectionId}` path parameter of the routes about one connection. */
export const connectionParamsSchema = {
  type: 'object',
  required: ['connectionId'],
  properties: { connectionId: { type: 'string' } },
} as const;

export const connectionRoutes: FastifyPluginAsync<{
  repo: Pick<OperationsRepository, 'list' | 'get'>;
}> = async (app, { repo }) => {
  app.get<{ Querystring: ListQuery }>(
    '/ops/connections',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'List connections, newest first, with filters and a cursor',
        querystring: listQuerySchema,
      },
    },
    async (request) => {
      const { limit, cursor, ...filter } = request.query;
      const page = await connectionPage(repo, filter, limit, cursor);
      return { items: page.items.map(connectionSummary), nextCursor: page.nextCursor };
    },
  );

  app.get<{ Params: { connectionId: string } }>(
    '/ops/connections/:connectionId',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'One connection: payload, decision, callback, steps, history',
        params: connectionParamsSchema,
      },
    },
    async (request) =>
      connectionDetail(await getOrThrow(repo, request.params.connectionId, noSuchConnection)),
  );

  app.get<{ Params: { connectionId: string } }>(
    '/ops/connections/:connectionId/timeline',
    {
      config: { role: 'viewer' },
      schema: {
        summary:
          "One connection's story: every event in order, with times, and the actions it accepts",
        params: connectionParamsSchema,
      },
    },
    async (request) =>
      connectionTimeline(await getOrThrow(repo, request.params.connectionId, noSuchConnection)),
  );

  app.get<{ Querystring: { q: string } }>(
    '/ops/search',
    {
      config: { role: 'viewer' },
      schema: {
        summary: 'Find connections by connection id, subscription id or organization id',
        querystring: {
          type: 'object',
          required: ['q'],
          properties: { q: { type: 'string', minLength: 1, maxLength: 200, pattern: '\\S' } },
          additionalProperties: false,
        },
      },
    },
    async (request) => ({
      query: request.query.q.trim(),
      matches: (await searchConnections(repo, request.query.q)).map(
        ({ matchedBy, connection }) => ({ matchedBy, ...connectionSummary(connection) }),
      ),
    }),
  );
};
