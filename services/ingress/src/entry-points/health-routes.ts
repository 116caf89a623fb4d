// Liveness and readiness routes, outside the configurable base path.
import type { FastifyPluginAsync } from 'fastify';

/** A readiness probe: resolves true when the dependency can serve. */
export type ReadinessCheck = () => Promise<boolean>;

export const registerHealthRoutes: FastifyPluginAsync<{
  checks: Record<string, ReadinessCheck>;
}> = async (app, { checks }) => {
  app.get('/health', async () => ({ status: 'up' }));

  app.get('/ready', async (_request, reply) => {
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
