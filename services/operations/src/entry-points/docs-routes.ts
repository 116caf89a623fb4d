// GET /ops/docs: the OpenAPI 3.1 document of the operations API, generated from the routes' schemas.
import type { FastifyPluginAsync } from 'fastify';

export const docsRoutes: FastifyPluginAsync = async (app) => {
  app.get(
    '/ops/docs',
    { config: { role: 'viewer' }, schema: { summary: 'This OpenAPI document' } },
    async () => app.swagger(),
  );
};
