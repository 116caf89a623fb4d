// Builds the ingress Fastify application from its dependencies: no listen, no process handling.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '@fortellis-admin/contracts';
import type { IngressConfig } from './config.ts';
import { registerHealthRoutes, type ReadinessCheck } from './entry-points/health-routes.ts';

export interface IngressDeps {
  config: IngressConfig;
  logger: Logger;
  /** Each check must resolve true for /ready to answer 200. */
  readiness: Record<string, ReadinessCheck>;
}

export async function buildApp(deps: IngressDeps): Promise<FastifyInstance> {
  // pino's Logger and Fastify's logger type differ only in generics; the instance is the same.
  const loggerInstance: FastifyBaseLogger = deps.logger;
  const app = Fastify({
    loggerInstance,
    trustProxy: deps.config.http.trustProxy,
    disableRequestLogging: false,
  });
  await app.register(registerHealthRoutes, { checks: deps.readiness });
  return app;
}
