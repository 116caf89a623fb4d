// The operator login form: the page a browser gets instead of the console while it has no valid
// session, and where it may go once logged in (only a path of this listener, never another site).
import type { FastifyReply } from 'fastify';

export const LOGIN_PATH = '/ops/login';
const DEFAULT_LANDING = '/ops/queues';

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

export const sendLoginPage = (
  reply: FastifyReply,
  status: number,
  next: string,
  problem?: string,
) =>
  reply
    .code(status)
    .header('cache-control', 'no-store')
    .header(
      'content-security-policy',
      "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'",
    )
    .type('text/html; charset=utf-8')
    .send(loginPage(next, problem));
