// One log line per HTTP request, the same in every service: Fastify's own two lines (incoming,
// completed) are switched off, and an onResponse hook writes what the request was, how it ended
// and how long it took, with whatever the service adds (the connection, the operator).
import { LogController, type FastifyInstance, type FastifyRequest } from 'fastify';

/** Fastify options that switch its own request lines off and label the request id. */
export function oneLinePerRequest(): { logController: LogController } {
  return {
    logController: new LogController({
      disableRequestLogging: true,
      requestIdLogLabel: 'requestId',
    }),
  };
}

/**
 * Writes the one line of each request once its answer has gone out; `fields` adds the service's
 * own (never a token, a secret or personal data), `observe` sees each route, status and duration.
 */
export function logEachRequest(
  app: FastifyInstance,
  options: {
    fields?: (request: FastifyRequest) => Record<string, unknown>;
    observe?: (route: string, statusCode: number, seconds: number) => void;
  } = {},
): void {
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    options.observe?.(route, reply.statusCode, reply.elapsedTime / 1000);
    request.log.info(
      {
        method: request.method,
        route,
        statusCode: reply.statusCode,
        ms: Math.round(reply.elapsedTime * 10) / 10,
        ...options.fields?.(request),
      },
      'request completed',
    );
  });
}

/** Whether to believe X-Forwarded-* headers: a setting every HTTP service has. */
export const TRUST_PROXY_ENV_PROPERTIES = {
  TRUST_PROXY: {
    description:
      'Trust X-Forwarded-* headers (behind a load balancer or Ingress controller that sets them): the client address and https, for Secure cookies, come from them.',
    type: 'boolean',
    default: false,
  },
} as const;
