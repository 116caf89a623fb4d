// Operators' decisions on a connection: approve or reject one held for review (with a reason), and
// suspend an accepted one (stop traffic, with a reason). Each is recorded on the connection and
// carried out by the approval worker (202 once recorded and queued).
import type { FastifyPluginAsync } from 'fastify';
import { suspendConnection, type SuspensionPorts } from '../domain/connection-suspension.ts';
import { decideHeldConnection, type ReviewDecisionPorts } from '../domain/review-decision.ts';
import { connectionParamsSchema } from './connection-routes.ts';

export const reviewRoutes: FastifyPluginAsync<ReviewDecisionPorts & SuspensionPorts> = async (
  app,
  ports,
) => {
  app.post<{ Params: { connectionId: string } }>(
    '/ops/connections/:connectionId/approve',
    {
      config: { role: 'operator' },
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
      config: { role: 'operator' },
      schema: {
        summary: 'Reject a connection held for review, with a reason',
        params: connectionParamsSchema,
        body: reasonBodySchema,
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

  app.post<{ Params: { connectionId: string }; Body: { reason: string } }>(
    '/ops/connections/:connectionId/suspend',
    {
      config: { role: 'operator' },
      schema: {
        summary:
          'Suspend an accepted connection: stop its traffic (sends rejected with the reason)',
        params: connectionParamsSchema,
        body: reasonBodySchema,
      },
    },
    async (request, reply) =>
      reply.code(202).send(
        await suspendConnection(
          ports,
          {
            connectionId: request.params.connectionId,
            operator: request.operator ?? '',
            reason: request.body.reason,
            requestId: request.id,
          },
          request.log,
        ),
      ),
  );
};

/** The body of an action that Fortellis is told the reason of. */
const reasonBodySchema = {
  type: 'object',
  required: ['reason'],
  properties: { reason: { type: 'string', minLength: 1, maxLength: 500, pattern: '\\S' } },
  additionalProperties: false,
} as const;
