// Liveness and readiness for the orchestrator's probes: /health (the process runs) and /ready
// (every dependency answers), as Fastify routes (the operations service) or as the checks a
// monitoring listener runs (the ingress, the workers). Left out of any OpenAPI document.
import type { FastifyPluginAsync } from 'fastify';

/** A readiness probe: resolves true when the dependency can serve. */
export type ReadinessCheck = () => Promise<boolean>;

/** Runs every check at once: name -> whether it can serve (a check that throws cannot). */
export async function checkReadiness(
  checks: Readonly<Record<string, ReadinessCheck>>,
): Promise<Record<string, boolean>> {
  return Object.fromEntries(
    await Promise.all(
      Object.entries(checks).map(
        async ([name, check]) => [name, await check().catch(() => false)] as const,
      ),
    ),
  );
}

export const healthRoutes: FastifyPluginAsync<{ checks: Record<string, ReadinessCheck> }> = async (
  app,
  { checks },
) => {
  app.get('/health', { schema: { hide: true } }, async () => ({ status: 'up' }));

  app.get('/ready', { schema: { hide: true } }, async (_request, reply) => {
    const states = await checkReadiness(checks);
    const ready = Object.values(states).every(Boolean);
    return reply.code(ready ? 200 : 503).send({
      status: ready ? 'ready' : 'not_ready',
      checks: Object.fromEntries(
        Object.entries(states).map(([name, ok]) => [name, ok ? 'up' : 'down']),
      ),
    });
  });
};
