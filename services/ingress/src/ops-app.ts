// Builds the operations application: a second Fastify instance, on its own listener, that the
// Fortellis-facing port never serves. Every route but the login form requires an operator: a
// bearer token (API, scrapers) or the session cookie the login form sets (browser, Bull Board).
import cookie from '@fastify/cookie';
import swagger from '@fastify/swagger';
import type { Queue } from 'bullmq';
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '@fortellis-admin/service-kit';
import type { Registry } from 'prom-client';
import type { JobPublisher } from './data-access/job-publisher.ts';
import { createOperatorAuthenticator, type OperatorToken } from './domain/operator-tokens.ts';
import { installErrorHandler } from './entry-points/error-handler.ts';
import { operatorAuthHook, opsLoginRoutes } from './entry-points/ops-login.ts';
import { opsRoutes, type OpsRoutesOptions } from './entry-points/ops-routes.ts';
import { QUEUE_BOARD_PATH, queueBoard } from './entry-points/queue-board.ts';

export interface OpsDeps {
  logger: Logger;
  tokens: readonly OperatorToken[];
  repo: OpsRoutesOptions['repo'];
  publisher: Pick<JobPublisher, 'publish'>;
  /** Every queue of the system, shown read-write in Bull Board. */
  queues: readonly Queue[];
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
  // The login form posts its fields urlencoded.
  app.addContentTypeParser(
    'application/x-www-form-urlencoded',
    { parseAs: 'string' },
    (_request, raw, done) => done(null, Object.fromEntries(new URLSearchParams(raw as string))),
  );
  await app.register(cookie);
  const auth = createOperatorAuthenticator(deps.tokens, () => deps.clock.now());
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
    // Bull Board's own routes are its UI's business, not part of the documented API.
    transform: ({ schema, url }) => ({
      schema: url.startsWith(QUEUE_BOARD_PATH) ? { ...schema, hide: true } : schema,
      url,
    }),
  });
  await app.register(opsLoginRoutes, { auth, now: () => deps.clock.now() });
  app.decorateRequest('operator', null);
  await app.register(async (protectedScope) => {
    protectedScope.addHook('onRequest', operatorAuthHook(auth));
    await protectedScope.register(opsRoutes, {
      repo: deps.repo,
      publisher: deps.publisher,
      now: () => deps.clock.now(),
      ...(deps.registry === undefined ? {} : { registry: deps.registry }),
    });
    await protectedScope.register(queueBoard, { queues: deps.queues });
  });
  return app;
}
