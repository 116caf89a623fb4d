// Builds the ingress Fastify application from its dependencies: no listen, no process handling.
// It serves the Admin API only: /health, /ready and /metrics are on the monitoring listener.
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import {
  logEachRequest,
  oneLinePerRequest,
  type JobPublisher,
  type Logger,
  type ReadinessCheck,
} from '@fortellis-admin/service-kit';
import type { IngressConfig } from './config.ts';
import type { IngressMetrics } from './ingress-metrics.ts';
import type { TokenVerifier } from './domain/token-verifier.ts';
import { adminRoutes } from './entry-points/admin-routes.ts';
import { installErrorHandler, type AuthFailureCounts } from './entry-points/error-handler.ts';

/** Fortellis' Admin API bodies are a few KiB; anything over this is refused with 413. */
export const BODY_LIMIT_BYTES = 64 * 1024;

const REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

export interface IngressDeps {
  config: IngressConfig;
  logger: Logger;
  verifier: Pick<TokenVerifier, 'verifyHeader'>;
  publisher: Pick<JobPublisher, 'publish'>;
  /** Each check must resolve true for /ready (on the monitoring listener) to answer 200. */
  readiness: Record<string, ReadinessCheck>;
  clock: { now(): Date };
  ids: { requestId(): string };
  /** Prometheus series, when collected (served by the monitoring listener). */
  metrics?: IngressMetrics;
}

export interface IngressApp {
  app: FastifyInstance;
  /** Refused tokens by reason since start. */
  authFailures: AuthFailureCounts;
}

export async function buildApp(deps: IngressDeps): Promise<IngressApp> {
  // pino's Logger and Fastify's logger type differ only in generics; the instance is the same.
  const loggerInstance: FastifyBaseLogger = deps.logger;
  const app = Fastify({
    loggerInstance,
    trustProxy: deps.config.http.trustProxy,
    bodyLimit: BODY_LIMIT_BYTES,
    // One line per request, written by logEachRequest, instead of Fastify's two.
    ...oneLinePerRequest(),
    // Fortellis sends a GUID in Request-Id; test tooling may omit it. Keep a sane one, else make one.
    genReqId: (raw) => {
      const given = raw.headers['request-id'];
      return typeof given === 'string' && REQUEST_ID.test(given) ? given : deps.ids.requestId();
    },
    return503OnClosing: true,
  });

  app.addHook('onSend', async (request, reply) => {
    void reply.header('request-id', request.id);
  });
  // The one log line of a request: what it was, how it ended, which connection it was about.
  logEachRequest(app, {
    // Set by the admin routes once the call's connection is known.
    fields: (request) => ({
      connectionId: (request as { connectionId?: string | null }).connectionId ?? undefined,
      // The declared type, whatever it is: a body is judged on what it holds (admin-routes.ts).
      contentType: (
        (request as { declaredContentType?: string | null }).declaredContentType ??
        request.headers['content-type']
      )?.slice(0, 100),
    }),
    observe: (route, statusCode, seconds) => deps.metrics?.request(route, statusCode, seconds),
  });

  const authFailures: AuthFailureCounts = new Map();
  installErrorHandler(app, authFailures, (reason) => deps.metrics?.authFailure(reason));
  const basePath = deps.config.http.basePath;
  await app.register(adminRoutes, {
    prefix: basePath,
    verifier: deps.verifier,
    publisher: deps.publisher,
    adminApiUrl: `${deps.config.http.publicBaseUrl?.replace(/\/+$/, '') ?? ''}${basePath}`,
    now: () => deps.clock.now(),
  });
  return { app, authFailures };
}
