// Re-runs what failed on a connection: the callback (callback_failed), else the deprovision steps
// that failed (202 once queued; 409 when nothing failed).
import type { FastifyPluginAsync } from 'fastify';
import { retryFailedWork, type RetryPorts } from '../domain/failed-work-retry.ts';
import { connectionParamsSchema } from './connection-routes.ts';

export const retryRoutes: FastifyPluginAsync<RetryPorts> = async (app, ports) => {
  app.post<{ Params: { connectionId: string } }>(
    '/ops/connections/:connectionId/retry',
    {
      config: { role: 'operator' },
      schema: {
        summary: 'Re-run a failed callback or failed deprovision steps',
        params: connectionParamsSchema,
      },
    },
    async (request, reply) =>
      reply.code(202).send(
        await retryFailedWork(ports, {
          connectionId: request.params.connectionId,
          operator: request.operator ?? '',
          requestId: request.id,
        }),
      ),
  );
};
