// Bull Board at /ops/queues: every queue of the system, for authenticated operators only
// (registered inside the operations listener's protected scope). Reading is open; its writes go
// through the allow-list of domain/queue-board-actions.ts.
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ERROR_CODES } from '@fortellis-admin/contracts';
import { replyWithAppError } from '@fortellis-admin/service-kit';
import {
  QUEUE_BOARD_PATH,
  REMOVE_JOB_ROUTE,
  refusedBoardAction,
  refusedJobRemoval,
} from '../domain/queue-board-actions.ts';

function refuse(request: FastifyRequest, reply: FastifyReply, why: string): FastifyReply {
  request.log.warn(
    { event: 'queue_action_refused', operator: request.operator, route: request.routeOptions.url },
    `queue action refused: ${why}`,
  );
  return replyWithAppError(
    reply,
    new AppError(ERROR_CODES.actionNotAllowed, `this queue action is not allowed: ${why}`, {
      httpStatus: 403,
    }),
  );
}

export const queueBoard: FastifyPluginAsync<{ queues: readonly Queue[] }> = async (
  app,
  { queues },
) => {
  const byName = new Map(queues.map((queue) => [queue.name, queue]));
  app.addHook('preHandler', async (request, reply) => {
    const params = request.params as Record<string, string>;
    const why = refusedBoardAction(request.method, request.routeOptions.url, params);
    if (why !== undefined) {
      await refuse(request, reply, why);
      return;
    }
    if (request.routeOptions.url === REMOVE_JOB_ROUTE) {
      const queue = byName.get(params.queueName ?? '');
      const state = queue === undefined ? undefined : await queue.getJobState(params.jobId ?? '');
      const refused = refusedJobRemoval(state);
      if (refused !== undefined) await refuse(request, reply, refused);
    }
  });
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(QUEUE_BOARD_PATH);
  createBullBoard({
    queues: queues.map((queue) => new BullMQAdapter(queue, { readOnlyMode: false })),
    serverAdapter,
    options: {
      uiConfig: {
        boardTitle: 'Fortellis Admin',
        miscLinks: [
          { text: 'Operations API', url: '/ops/docs' },
          { text: 'Log out', url: '/ops/logout' },
        ],
      },
    },
  });
  await app.register(serverAdapter.registerPlugin(), { prefix: QUEUE_BOARD_PATH });
};
