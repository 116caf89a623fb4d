// GET /ops/whoami: the operator behind the request (bearer token or session) and what their role
// allows, so the console shows only what it may do. The server still checks every route.
import type { FastifyPluginAsync } from 'fastify';
import { roleAllows } from '../domain/operator-roles.ts';

export const whoamiRoutes: FastifyPluginAsync = async (app) => {
  app.get(
    '/ops/whoami',
    {
      config: { role: 'viewer' },
      schema: { summary: 'The operator making the request, their role and what it allows' },
    },
    async (request) => {
      const role = request.operatorRole ?? 'viewer';
      return {
        operator: request.operator,
        role,
        may: {
          read: true,
          act: roleAllows(role, 'operator'),
          administer: roleAllows(role, 'admin'),
        },
      };
    },
  );
};
