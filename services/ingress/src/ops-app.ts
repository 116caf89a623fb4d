// Builds the operations application: a second Fastify instance, on its own listener, that the
// Fortellis-facing port never serves. Every route requires an operator token.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { ConnectionRepository, Logger } from '@fortellis-admin/contracts';
import { createOperatorAuthenticator, type OperatorToken } from './domain/operator-tokens.ts';
import { installErrorHandler } from './entry-points/error-handler.ts';
import { opsRoutes } from './entry-points/ops-routes.ts';

export interface OpsDeps {
  logger: Logger;
  tokens: readonly OperatorToken[];
  repo: Pick<ConnectionRepository, 'list' | 'get'>;
}

export async function buildOpsApp(deps: OpsDeps): Promise<FastifyInstance> {
  const loggerInstance: FastifyBaseLogger = deps.logger.child({ listener: 'ops' });
  const app = Fastify({
    loggerInstance,
    bodyLimit: 16 * 1024,
    // Unknown query parameters are refused, not silently dropped.
    ajv: { customOptions: { removeAdditional: false } },
  });
  installErrorHandler(app, new Map());
  await app.register(opsRoutes, {
    repo: deps.repo,
    authenticate: createOperatorAuthenticator(deps.tokens),
  });
  return app;
}
