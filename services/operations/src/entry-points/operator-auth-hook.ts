// The onRequest hook of every protected route of the operations listener: a bearer token (API,
// scrapers) or the session cookie the login form sets (browser, Bull Board). A browser navigation
// without a valid session gets the login form; an API call gets `{code, message, error}`.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ERROR_CODES } from '@fortellis-admin/contracts';
import { replyWithAppError } from '@fortellis-admin/service-kit';
import type { OperatorAuthenticator } from '../domain/operator-tokens.ts';
import { safeLanding, sendLoginPage } from './login-page.ts';
import { SESSION_COOKIE } from './login-routes.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The operator's token name, once authenticated. */
    operator: string | null;
  }
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

const wantsPage = (request: FastifyRequest): boolean =>
  request.method === 'GET' && (request.headers.accept ?? '').includes('text/html');

/** A browser request sent from another site's page: refused for anything but reading. */
function crossSite(request: FastifyRequest): boolean {
  const origin = request.headers.origin;
  if (origin === undefined) return request.headers['sec-fetch-site'] === 'cross-site';
  try {
    return new URL(origin).host !== request.headers.host;
  } catch {
    return true;
  }
}

/**
 * The onRequest hook of every protected route. A browser navigation without a valid session gets
 * the login form (with the 401/403 status); an API call gets `{code, message}`.
 */
export function operatorAuthHook(auth: OperatorAuthenticator) {
  return async (request: FastifyRequest, reply: FastifyReply): Promise<void> => {
    try {
      const { operator, via } = auth.authenticate({
        authorization: request.headers.authorization,
        session: request.cookies[SESSION_COOKIE],
      });
      if (via === 'session' && !SAFE_METHODS.has(request.method) && crossSite(request)) {
        throw new AppError(ERROR_CODES.authenticationFailed, 'a cross-site request is refused', {
          httpStatus: 403,
        });
      }
      request.operator = operator;
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      if (wantsPage(request)) {
        request.log.info({ error: error.code }, 'operator login required');
        await sendLoginPage(
          reply.clearCookie(SESSION_COOKIE, { path: '/ops' }),
          error.httpStatus ?? 401,
          safeLanding(request.url),
          error.httpStatus === 403 ? error.message : undefined,
        );
        return;
      }
      request.log.info({ error: error.code, problem: error.message }, 'request refused');
      await replyWithAppError(reply, error);
    }
  };
}
