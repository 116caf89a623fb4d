// The operations API (read side): list connections with filters and cursor pagination, and show
// one connection with its decision, callback, deprovision steps and history.
import type { FastifyPluginAsync } from 'fastify';
import {
  AppError,
  CONNECTION_STATES,
  ContractViolationError,
  ERROR_CODES,
  type ConnectionDocument,
  type ConnectionFilter,
  type ConnectionRepository,
  type ListCursor,
} from '@fortellis-admin/contracts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The operator's token name, once authenticated. */
    operator: string | null;
  }
}

export interface OpsRoutesOptions {
  repo: Pick<ConnectionRepository, 'list' | 'get'>;
  authenticate: (authorization: string | undefined) => string;
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
  app.decorateRequest('operator', null);
  app.addHook('onRequest', async (request) => {
    request.operator = options.authenticate(request.headers.authorization);
  });
  // Fastify's own validation errors become the API's 400 answer.
  app.setSchemaErrorFormatter((errors) => {
    const issues = errors.map((error) => ({
      pointer: `/${(error.params as { additionalProperty?: string }).additionalProperty ?? error.instancePath.replace(/^\//, '')}`,
      message: error.message ?? 'is invalid',
    }));
    return new ContractViolationError('query', issues);
  });

  app.get<{ Querystring: ListQuery }>(
    '/ops/connections',
    { schema: { querystring: listQuerySchema } },
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
};
