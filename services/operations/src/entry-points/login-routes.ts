// The browser login of the operations listener: /ops/login turns a token typed into a form into an
// HttpOnly, SameSite=Strict session cookie, so the token never appears in a URL, a history or a
// log; /ops/logout clears it. The only routes of the listener open to anyone, with the probes.
// Attempts are throttled per client address, and repeated failures lock the address out
// (login-throttle.ts). A metrics token cannot log in: it reads /metrics and nothing else.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { OperatorAuthenticator } from '../domain/operator-tokens.ts';
import { LOGIN_PATH, safeLanding, sendLoginPage } from './login-page.ts';
import { createLoginThrottle, type LoginRefusal } from './login-throttle.ts';

export const SESSION_COOKIE = 'fortellis_ops_session';
export const SESSION_TTL_MS = 8 * 60 * 60 * 1000;

export interface LoginRoutesOptions {
  auth: OperatorAuthenticator;
  now: () => Date;
}

export const loginRoutes: FastifyPluginAsync<LoginRoutesOptions> = async (app, { auth, now }) => {
  const throttle = createLoginThrottle(app);
  const refuse = (
    request: FastifyRequest,
    reply: FastifyReply,
    next: string,
    { error, status, retryAfterSeconds }: LoginRefusal,
  ) => {
    if (status === 503)
      request.log.error(
        { err: error.cause, error: error.code },
        'login attempt counters unreachable',
      );
    else request.log.warn({ event: 'operator_login_throttled', error: error.code }, error.message);
    return sendLoginPage(
      reply.header('retry-after', String(retryAfterSeconds)),
      status,
      next,
      error.message,
    );
  };

  app.get<{ Querystring: { next?: string } }>(
    LOGIN_PATH,
    { schema: { hide: true } },
    async (request, reply) => sendLoginPage(reply, 200, safeLanding(request.query.next)),
  );

  app.post<{ Body: Record<string, unknown> | undefined }>(
    LOGIN_PATH,
    { schema: { hide: true } },
    async (request, reply) => {
      const { token, next: wanted } = request.body ?? {};
      const next = safeLanding(wanted);
      const throttled = await throttle.admit(request);
      if (throttled !== undefined) return refuse(request, reply, next, throttled);
      const identity = typeof token === 'string' ? auth.operatorOf(token) : undefined;
      if (typeof token !== 'string' || identity === undefined) {
        request.log.warn({ event: 'operator_login_refused' }, 'operator login refused');
        const lockedOut = await throttle.failed(request);
        if (lockedOut !== undefined) return refuse(request, reply, next, lockedOut);
        return sendLoginPage(reply, 403, next, 'That is not a valid operator token.');
      }
      const { operator, role } = identity;
      if (role === 'metrics') {
        request.log.warn({ event: 'operator_login_refused', operator, role }, 'metrics token');
        return sendLoginPage(
          reply,
          403,
          next,
          'A metrics token reads /metrics only; it cannot log in.',
        );
      }
      const expires = new Date(now().getTime() + SESSION_TTL_MS);
      request.log.info({ event: 'operator_login', operator, role }, 'operator logged in');
      return reply
        .setCookie(SESSION_COOKIE, auth.issueSession(token, expires), {
          path: '/ops',
          httpOnly: true,
          sameSite: 'strict',
          secure: request.protocol === 'https',
          expires,
        })
        .header('cache-control', 'no-store')
        .redirect(next, 303);
    },
  );

  app.route({
    method: ['GET', 'POST'],
    url: '/ops/logout',
    schema: { hide: true },
    handler: async (_request, reply) =>
      reply.clearCookie(SESSION_COOKIE, { path: '/ops' }).redirect(LOGIN_PATH, 303),
  });
};
