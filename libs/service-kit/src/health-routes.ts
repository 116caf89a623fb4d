// Liveness and readiness routes of a Fastify service, for the orchestrator's probes: /health (the
// process runs) and /ready (every dependency answers). Left out of any OpenAPI document.
import type { FastifyPluginAsync } from 'fastify';

/** A readiness probe: resolves true when the dependency can serve. */
export type ReadinessCheck = () => Promise<boolean>;

export const healthRoutes: FastifyPluginAsync<{ checks: Record<string, ReadinessCheck> }> = async (
  app,
  { checks },
) => {
  app.get('/health', { schema: { hide: true } }, async () => ({ status: 'up' }));

  app.get('/ready', { schema: { hide: true } }, async (_request, reply) => {
    const entries = await Promise.all(
      Object.entries(checks).map(async ([name, check]) => {
        const ok = await check().catch(() => false);
        return [name, ok ? 'up' : 'down'] as const;
      }),
    );
    const ready = entries.every(([, state]) => state === 'up');
    return reply
      .code(ready ? 200 : 503)
      .send({ status: ready ? 'ready' : 'not_ready', checks: Object.fromEntries(entries) });
  });
};
