// The onRequest hook of every protected route of the operations listener: a bearer token (API,
// scrapers) or the session cookie the login form sets (browser, Bull Board), then the role the
// route needs (its `config.role`; admin when a route declares none). A browser navigation
// without a valid session gets the login form; an API call gets `{code, message, error}`; a role
// too low gets 403 FORBIDDEN_ROLE naming the role needed.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ERROR_CODES } from '@fortellis-admin/contracts';
import { replyWithAppError } from '@fortellis-admin/service-kit';
import { roleAllows, type OperatorRole } from '../domain/operator-roles.ts';
import type { OperatorAuthenticator } from '../domain/operator-tokens.ts';
import { safeLanding, sendLoginPage } from './login-page.ts';
import { SESSION_COOKIE } from './login-routes.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The operator's token name, once authenticated. */
    operator: string | null;
    /** The operator's role, once authenticated. */
    operatorRole: OperatorRole | null;
  }
  interface FastifyContextConfig {
    /** The least role a protected route needs; a route that declares none needs `admin`. */
    role?: OperatorRole;
  }
}

/** The role a request's route needs: what it declares, else the highest (fail closed). */
export function neededRole(request: FastifyRequest): OperatorRole {
  return request.routeOptions.config.role ?? 'admin';
}

function roleRefused(needed: OperatorRole, role: OperatorRole): AppError {
  return new AppError(
    ERROR_CODES.forbiddenRole,
    `this needs the ${needed} role; the ${role} role does not allow it`,
    { httpStatus: 403 },
  );
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
      const { operator, role, via } = auth.authenticate({
        authorization: request.headers.authorization,
        session: request.cookies[SESSION_COOKIE],
      });
      if (via === 'session' && !SAFE_METHODS.has(request.method) && crossSite(request)) {
        throw new AppError(ERROR_CODES.authenticationFailed, 'a cross-site request is refused', {
          httpStatus: 403,
        });
      }
      request.operator = operator;
      request.operatorRole = role;
      const needed = neededRole(request);
      if (!roleAllows(role, needed)) throw roleRefused(needed, role);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      // A role too low is not a login problem: the session stays, the answer says what is needed.
      if (wantsPage(request) && error.code !== ERROR_CODES.forbiddenRole) {
        request.log.info({ error: error.code }, 'operator login required');
        await sendLoginPage(
          reply.clearCookie(SESSION_COOKIE, { path: '/ops' }),
          error.httpStatus ?? 401,
          safeLanding(request.url),
          error.httpStatus === 403 ? error.message : undefined,
        );
        return;
      }
      request.log.info(
        { error: error.code, problem: error.message, role: request.operatorRole ?? undefined },
        'request refused',
      );
      await replyWithAppError(reply, error);
    }
  };
}
