// The operations listener's authentication: the hook every protected route runs (bearer token or
// session cookie), and the browser login that turns a token typed into a form into an HttpOnly,
// SameSite=Strict session cookie, so the token never appears in a URL, a history or a log.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ERROR_CODES } from '@fortellis-admin/contracts';
import type { OperatorAuthenticator } from '../domain/operator-tokens.ts';
import { replyWithAppError } from './error-handler.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The operator's token name, once authenticated. */
    operator: string | null;
  }
}

export const SESSION_COOKIE = 'fortellis_ops_session';
export const SESSION_TTL_MS = 8 * 60 * 60 * 1000;
const LOGIN_PATH = '/ops/login';
const DEFAULT_LANDING = '/ops/queues';
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

const escapeHtml = (text: string): string =>
  text.replace(
    /[&<>"']/g,
    (char) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[char]!,
  );

/** Where to go after logging in: only a path of this listener, never another site. */
export function safeLanding(next: unknown): string {
  if (typeof next !== 'string') return DEFAULT_LANDING;
  const ok =
    next.startsWith('/ops/') &&
    !next.startsWith('//') &&
    !next.includes('\\') &&
    !next.startsWith(LOGIN_PATH);
  return ok ? next : DEFAULT_LANDING;
}

export function loginPage(next: string, problem?: string): string {
  const notice =
    problem === undefined ? '' : `<p class="problem" role="alert">${escapeHtml(problem)}</p>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Operator login · Fortellis Admin</title>
<style>
body{font-family:system-ui,sans-serif;background:#f4f5f7;display:flex;justify-content:center;padding-top:12vh;margin:0}
form{background:#fff;padding:2rem;border-radius:8px;box-shadow:0 1px 4px #0002;width:22rem}
h1{font-size:1.2rem;margin:0 0 1rem}label{display:block;margin-bottom:.4rem}
input[type=password]{width:100%;box-sizing:border-box;padding:.5rem;font-size:1rem}
button{margin-top:1rem;padding:.5rem 1.2rem;font-size:1rem}.problem{color:#a00}
</style>
</head>
<body>
<form method="post" action="${LOGIN_PATH}">
<h1>Fortellis Admin operations</h1>
${notice}
<label for="token">Operator token</label>
<input id="token" name="token" type="password" autocomplete="current-password" required autofocus>
<input type="hidden" name="next" value="${escapeHtml(next)}">
<button type="submit">Log in</button>
</form>
</body>
</html>
`;
}

const sendLoginPage = (reply: FastifyReply, status: number, next: string, problem?: string) =>
  reply
    .code(status)
    .header('cache-control', 'no-store')
    .header(
      'content-security-policy',
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    )
    .type('text/html; charset=utf-8')
    .send(loginPage(next, problem));

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

export interface OpsLoginOptions {
  auth: OperatorAuthenticator;
  now: () => Date;
}

/** /ops/login (form and check) and /ops/logout: the only routes of the listener open to anyone. */
export const opsLoginRoutes: FastifyPluginAsync<OpsLoginOptions> = async (app, { auth, now }) => {
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
      const operator = typeof token === 'string' ? auth.operatorOf(token) : undefined;
      if (typeof token !== 'string' || operator === undefined) {
        request.log.warn({ event: 'operator_login_refused' }, 'operator login refused');
        return sendLoginPage(reply, 403, next, 'That is not a valid operator token.');
      }
      const expires = new Date(now().getTime() + SESSION_TTL_MS);
      request.log.info({ event: 'operator_login', operator }, 'operator logged in');
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
