// What the tutorial's Admin API offered, done right: authenticated, from the durable store, and
// a dismissal that tells Fortellis (a rejected callback) instead of silently dropping the request.
import type { FastifyPluginAsync } from 'fastify';
import { AppError, ERROR_CODES } from '@fortellis-admin/contracts';
import type { ConnectionDocument } from '@fortellis-admin/connection-store';
import { MAX_PAGE_SIZE } from '../domain/connection-pages.ts';
import type { OperationsRepository } from '../domain/ports.ts';
import { decideHeldConnection, type ReviewDecisionPorts } from '../domain/review-decision.ts';

export type ConnectionRequestPorts = ReviewDecisionPorts & {
  repo: Pick<OperationsRepository, 'list'>;
};

const DEFAULT_DISMISS_REASON = 'The provider declined this subscription.';

const dismissBodySchema = {
  type: 'object',
  required: ['subscriptionId'],
  properties: {
    subscriptionId: { type: 'string', minLength: 1 },
    reason: { type: 'string', minLength: 1, maxLength: 500 },
  },
  additionalProperties: false,
} as const;

/** A deactivation as listed: the connection, when it came, and how far each of its steps got. */
function deactivationRequest(connection: ConnectionDocument) {
  return {
    connectionId: connection.connectionId,
    subscriptionId: connection.subscriptionId ?? null,
    receivedAt: connection.deactivation?.receivedAt.toISOString() ?? null,
    neverActivated: connection.activation === undefined,
    steps: Object.fromEntries(
      Object.entries(connection.steps ?? {}).map(([step, record]) => [
        step,
        record.status ?? 'pending',
      ]),
    ),
  };
}

export const connectionRequestRoutes: FastifyPluginAsync<ConnectionRequestPorts> = async (
  app,
  ports,
) => {
  const { repo } = ports;

  app.get(
    '/ops/connection-requests',
    { config: { role: 'viewer' }, schema: { summary: 'Activations waiting for review' } },
    async () => {
      const held = await repo.list({ state: 'pending_review' }, MAX_PAGE_SIZE);
      return {
        connectionRequests: held
          .slice(0, MAX_PAGE_SIZE)
          .map((c) => ({ ...c.activation, receivedAt: c.receivedAt?.toISOString() ?? null })),
      };
    },
  );

  app.get(
    '/ops/deactivation-requests',
    { config: { role: 'viewer' }, schema: { summary: 'Deactivations and their step outcomes' } },
    async () => {
      const gone = await repo.list({ state: 'deactivated' }, MAX_PAGE_SIZE);
      return {
        deactivationRequests: gone.slice(0, MAX_PAGE_SIZE).map(deactivationRequest),
      };
    },
  );

  app.post<{ Body: { subscriptionId: string; reason?: string } }>(
    '/ops/connection-requests/dismiss',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'Dismiss the waiting requests of a subscription (sends rejected)',
        body: dismissBodySchema,
      },
    },
    async (request, reply) => {
      const { subscriptionId } = request.body;
      const held = await repo.list({ state: 'pending_review', subscriptionId }, MAX_PAGE_SIZE);
      if (held.length === 0) {
        throw new AppError(
          ERROR_CODES.notFound,
          `no connection request of subscription ${subscriptionId} is waiting`,
          { httpStatus: 404 },
        );
      }
      const reason = request.body.reason ?? DEFAULT_DISMISS_REASON;
      const dismissed = [];
      for (const connection of held.slice(0, MAX_PAGE_SIZE)) {
        const decided = await decideHeldConnection(ports, {
          connectionId: connection.connectionId,
          operator: request.operator ?? '',
          action: 'reject',
          requestId: request.id,
          reason,
        });
        dismissed.push(decided.connectionId);
      }
      return reply.code(202).send({ subscriptionId, dismissed, status: 'queued' });
    },
  );
};
