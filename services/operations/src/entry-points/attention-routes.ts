// GET /ops/attention: what needs an operator now (held for review, callbacks and provisionings
// given up, clean-ups given up, suspensions in flight), the page the console opens on.
import type { FastifyPluginAsync } from 'fastify';
import { attentionList } from '../domain/attention-list.ts';
import type { OperationsRepository } from '../domain/ports.ts';
import { connectionSummary } from './connection-routes.ts';

export const attentionRoutes: FastifyPluginAsync<{
  repo: Pick<OperationsRepository, 'needingAttention'>;
}> = async (app, { repo }) => {
  app.get(
    '/ops/attention',
    {
      config: { role: 'viewer' },
      schema: {
        summary:
          'What needs an operator now, by kind, the connection waiting longest first in each',
      },
    },
    async () => ({ groups: await attentionList(repo, connectionSummary) }),
  );
};
