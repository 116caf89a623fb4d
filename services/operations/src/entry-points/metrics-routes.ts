// GET /metrics: the operations service's Prometheus series, for an authenticated scraper.
import type { FastifyPluginAsync } from 'fastify';
import type { Registry } from 'prom-client';

export const metricsRoutes: FastifyPluginAsync<{ registry: Registry }> = async (
  app,
  { registry },
) => {
  app.get(
    '/metrics',
    {
      // The scraper's credential (role metrics) reads this and nothing else.
      config: { role: 'metrics' },
      schema: { summary: 'Prometheus metrics of the operations service' },
    },
    async (_request, reply) => reply.type(registry.contentType).send(await registry.metrics()),
  );
};
