// Builds the operations application from its dependencies: no listen, no process handling. Every
// route but the login form and the probes requires an operator: a bearer token (API, scrapers) or
// the session cookie the login form sets (browser, Bull Board), whose role must allow the route
// (each declares the least role it needs in `config.role`; see domain/operator-roles.ts).
import cookie from '@fastify/cookie';
import swagger, { type SwaggerOptions } from '@fastify/swagger';
import type { Queue } from 'bullmq';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyPluginAsync,
} from 'fastify';
import type { RulesCheckTimeLimit } from '@fortellis-admin/approval-rules';
import type { DecisionAction } from '@fortellis-admin/connection-store';
import {
  healthRoutes,
  installHttpErrorHandler,
  logEachRequest,
  oneLinePerRequest,
  type Logger,
  type ReadinessCheck,
} from '@fortellis-admin/service-kit';
import {
  createOperatorAuthenticator,
  type OperatorAuthenticator,
  type OperatorToken,
} from './domain/operator-tokens.ts';
import { attentionRoutes } from './entry-points/attention-routes.ts';
import type { JobPublishing, OperationsRepository } from './domain/ports.ts';
import { QUEUE_BOARD_PATH } from './domain/queue-board-actions.ts';
import { RULES_DRY_RUN_TIME_LIMIT_MS } from './domain/rules-dry-run.ts';
import { connectionRequestRoutes } from './entry-points/connection-request-routes.ts';
import { connectionRoutes } from './entry-points/connection-routes.ts';
import { consoleRoutes } from './entry-points/console-routes.ts';
import { docsRoutes } from './entry-points/docs-routes.ts';
import { loginRoutes } from './entry-points/login-routes.ts';
import { registerLoginThrottle, type LoginThrottleStore } from './entry-points/login-throttle.ts';
import { metricsRoutes } from './entry-points/metrics-routes.ts';
import { operatorAuthHook } from './entry-points/operator-auth-hook.ts';
import { queueBoard } from './entry-points/queue-board.ts';
import { retryRoutes } from './entry-points/retry-routes.ts';
import { reviewRoutes } from './entry-points/review-routes.ts';
import { rulesRoutes } from './entry-points/rules-routes.ts';
import { contractViolationFormatter } from './entry-points/schema-errors.ts';
import { whoamiRoutes } from './entry-points/whoami-routes.ts';
import type { OperationsMetrics } from './operations-metrics.ts';

export interface OperationsDeps {
  logger: Logger;
  tokens: readonly OperatorToken[];
  repo: OperationsRepository;
  publisher: JobPublishing;
  /** Every queue of the system, shown read-write in Bull Board. */
  queues: readonly Queue[];
  clock: { now(): Date };
  metrics: OperationsMetrics;
  /** Each check must resolve true for /ready to answer 200. */
  readiness: Record<string, ReadinessCheck>;
  /** Believe X-Forwarded-* (TRUST_PROXY): behind TLS termination the session cookie is Secure. */
  trustProxy?: boolean;
  /** APPROVAL_DEFAULT_ACTION, for the dry run of a rules file (default: review, as the worker's). */
  approvalDefaultAction?: DecisionAction;
  /**
   * Where the login throttle counts attempts per address: Redis, shared by every replica (main
   * passes it); absent, this process's memory (one replica, tests).
   */
  loginThrottleStore?: LoginThrottleStore;
  /** How long a dry run may try samples (default RULES_DRY_RUN_TIME_LIMIT_MS, performance.now). */
  rulesDryRunTimeLimit?: RulesCheckTimeLimit;
}

/**
 * Headers on every answer: no framing (clickjacking on Bull Board's buttons), no MIME sniffing,
 * no referrer, and a Content-Security-Policy that lets the pages (the login form, Bull Board) load
 * only their own scripts and data; inline styles are allowed for both.
 */
export const SECURITY_HEADERS = Object.freeze({
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-security-policy': [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "font-src 'self' data:",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; '),
});

/** The operations application: every route, hook and parser, ready for `listen` or `inject`. */
export async function buildApp(deps: OperationsDeps): Promise<FastifyInstance> {
  // pino's Logger and Fastify's logger type differ only in generics; the instance is the same.
  const loggerInstance: FastifyBaseLogger = deps.logger;
  const app = Fastify({
    loggerInstance,
    trustProxy: deps.trustProxy ?? false,
    // One line per request, written by logEachRequest, instead of Fastify's two.
    ...oneLinePerRequest(),
    bodyLimit: 16 * 1024,
    // Unknown query parameters are refused, not silently dropped.
    ajv: { customOptions: { removeAdditional: false } },
  });
  installHttpErrorHandler(app);
  logEachRequest(app, {
    // The operator's name (from the token list), never the token.
    fields: (request) => ({ operator: request.operator ?? undefined }),
    observe: (route, statusCode, seconds) => deps.metrics.request(route, statusCode, seconds),
  });
  app.addHook('onSend', async (_request, reply) => {
    void reply.headers(SECURITY_HEADERS);
  });
  parseBodies(app);
  await app.register(cookie);
  const auth = createOperatorAuthenticator(deps.tokens, () => deps.clock.now());
  await app.register(swagger, API_DOCUMENT);
  await app.register(healthRoutes, { checks: deps.readiness });
  await registerLoginThrottle(app, deps.loginThrottleStore);
  await app.register(loginRoutes, { auth, now: () => deps.clock.now() });
  app.decorateRequest('operator', null);
  app.decorateRequest('operatorRole', null);
  await app.register(operatorRoutes(deps, auth));
  return app;
}

/** The JSON bodies of the API, where an empty one is no body, and the login form's fields. */
function parseBodies(app: FastifyInstance): void {
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
}

/** The OpenAPI document of the operators' API (served by docs-routes). */
const API_DOCUMENT: SwaggerOptions = {
  openapi: {
    openapi: '3.1.0',
    info: {
      title: 'Fortellis Admin API: operations',
      version: '1.0.0',
      description:
        'Connections and their timelines, review decisions, suspensions, retries and the dry run of approval rules. Every route needs an operator bearer token whose role allows it: viewer reads, operator acts on connections, admin runs the dry run (and Bull Board actions), metrics reads /metrics only; 403 FORBIDDEN_ROLE names the role needed.',
    },
    components: { securitySchemes: { operatorToken: { type: 'http', scheme: 'bearer' } } },
    security: [{ operatorToken: [] }],
  },
  // Bull Board's own routes are its UI's business, not part of the documented API.
  transform: ({ schema, url }) => ({
    schema: url.startsWith(QUEUE_BOARD_PATH) ? { ...schema, hide: true } : schema,
    url,
  }),
};

/**
 * Every route that needs an operator (the API, the console, /metrics and Bull Board), behind the
 * hook that authenticates them.
 */
function operatorRoutes(deps: OperationsDeps, auth: OperatorAuthenticator): FastifyPluginAsync {
  return async (protectedScope) => {
    protectedScope.addHook('onRequest', operatorAuthHook(auth));
    await protectedScope.register(async (api) => {
      api.setSchemaErrorFormatter(contractViolationFormatter);
      const ports = { repo: deps.repo, publisher: deps.publisher, now: () => deps.clock.now() };
      await api.register(connectionRoutes, { repo: deps.repo });
      await api.register(attentionRoutes, { repo: deps.repo });
      await api.register(whoamiRoutes);
      await api.register(reviewRoutes, ports);
      await api.register(retryRoutes, ports);
      await api.register(connectionRequestRoutes, ports);
      await api.register(rulesRoutes, {
        repo: deps.repo,
        defaultAction: deps.approvalDefaultAction ?? 'review',
        timeLimit: deps.rulesDryRunTimeLimit ?? {
          ms: RULES_DRY_RUN_TIME_LIMIT_MS,
          now: () => performance.now(),
        },
      });
      await api.register(docsRoutes);
      await api.register(consoleRoutes);
      await api.register(metricsRoutes, { registry: deps.metrics.registry });
    });
    await protectedScope.register(queueBoard, {
      queues: deps.queues,
      retry: { repo: deps.repo, publisher: deps.publisher, now: () => deps.clock.now() },
    });
  };
}
