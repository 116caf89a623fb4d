// The operators' connections page at /ops/console: find a connection by any id, read its timeline
// and act on it (approve, reject, suspend, retry). A static page and its script, read once at
// start; everything it shows comes from the operations API with the operator's session.
import { readFile } from 'node:fs/promises';
import type { FastifyPluginAsync } from 'fastify';

export const CONSOLE_PATH = '/ops/console';

const asset = (name: string) => readFile(new URL(`../console/${name}`, import.meta.url), 'utf8');

export const consoleRoutes: FastifyPluginAsync = async (app) => {
  const [page, script] = await Promise.all([asset('console.html'), asset('console.js')]);
  const schema = { hide: true };
  const config = { role: 'viewer' } as const;
  app.get(CONSOLE_PATH, { schema, config }, async (_request, reply) =>
    reply.header('cache-control', 'no-store').type('text/html; charset=utf-8').send(page),
  );
  app.get(`${CONSOLE_PATH}/console.js`, { schema, config }, async (_request, reply) =>
    reply.header('cache-control', 'no-cache').type('text/javascript; charset=utf-8').send(script),
  );
};
