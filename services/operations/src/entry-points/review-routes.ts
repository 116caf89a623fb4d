// Operators' decisions on connections held for review: approve, or reject with a reason. Each is
// recorded on the connection and carried out by the approval worker (202 once queued).
import type { FastifyPluginAsync } from 'fastify';
import { decideHeldConnection, type ReviewDecisionPorts } from '../domain/review-decision.ts';
import { connectionParamsSchema } from './connection-routes.ts';

export const reviewRoutes: FastifyPluginAsync<ReviewDecisionPorts> = async (app, ports) => {
  app.post<{ Params: { connectionId: string } }>(
    '/ops/connections/:connectionId/approve',
    {
      schema: {
        summary: 'Approve a connection held for review',
        params: connectionParamsSchema,
      },
    },
    async (request, reply) =>
      reply.code(202).send(
        await decideHeldConnection(ports, {
          connectionId: request.params.connectionId,
          operator: request.operator ?? '',
          action: 'approve',
          requestId: request.id,
        }),
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
      reply.code(202).send(
        await decideHeldConnection(ports, {
          connectionId: request.params.connectionId,
          operator: request.operator ?? '',
          action: 'reject',
          requestId: request.id,
          reason: request.body.reason,
        }),
      ),
  );
};
