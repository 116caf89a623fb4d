// Builds the operations application: a second Fastify instance, on its own listener, that the
// Fortellis-facing port never serves. Every route requires an operator token.
import swagger from '@fastify/swagger';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '@fortellis-admin/contracts';
import type { Registry } from 'prom-client';
import type { JobPublisher } from './data-access/job-publisher.ts';
import { createOperatorAuthenticator, type OperatorToken } from './domain/operator-tokens.ts';
import { installErrorHandler } from './entry-points/error-handler.ts';
import { opsRoutes, type OpsRoutesOptions } from './entry-points/ops-routes.ts';

export interface OpsDeps {
  logger: Logger;
  tokens: readonly OperatorToken[];
  repo: OpsRoutesOptions['repo'];
  publisher: Pick<JobPublisher, 'publish'>;
  clock: { now(): Date };
  registry?: Registry;
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
  // An action without a body (approve) may still be sent as JSON: an empty body is no body.
  const defaultJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, raw, done) => {
    if ((raw as string).length === 0) done(null, undefined);
    else void defaultJson(request, raw as string, done);
  });
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Fortellis Admin API: operations',
        version: '1.0.0',
        description:
          'Connections, review decisions and retries. Every route needs an operator bearer token.',
      },
      components: { securitySchemes: { operatorToken: { type: 'http', scheme: 'bearer' } } },
      security: [{ operatorToken: [] }],
    },
  });
  await app.register(opsRoutes, {
    repo: deps.repo,
    publisher: deps.publisher,
    authenticate: createOperatorAuthenticator(deps.tokens),
    now: () => deps.clock.now(),
    ...(deps.registry === undefined ? {} : { registry: deps.registry }),
  });
  return app;
}
