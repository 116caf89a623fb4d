// Bull Board at /ops/queues: every queue of the system, read-write (retry, promote, pause, clean
// finished jobs), for authenticated operators only (registered inside the operations listener's
// protected scope). The board's actions that would drop work Fortellis was told is accepted
// (emptying or obliterating a queue, cleaning waiting or delayed jobs) or forge it (adding a job,
// editing a job's data) are refused: such work is recovered through the operations API instead.
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { FastifyPluginAsync } from 'fastify';
import { AppError, ERROR_CODES } from '@fortellis-admin/contracts';
import { replyWithAppError } from './error-handler.ts';

export const QUEUE_BOARD_PATH = '/ops/queues';

/** Board API calls refused, with why. Paths are relative to the board's `/api`. */
const REFUSED_ACTIONS: readonly { method: string; path: RegExp; why: string }[] = [
  { method: 'PUT', path: /^\/queues\/[^/]+\/(empty|obliterate)$/, why: 'would drop waiting jobs' },
  {
    method: 'PUT',
    path: /^\/queues\/[^/]+\/clean\/(?!completed$|failed$)[^/]+$/,
    why: 'only completed and failed jobs may be cleaned',
  },
  { method: 'POST', path: /^\/queues\/[^/]+\/add$/, why: 'jobs come from Fortellis calls only' },
  {
    method: 'PATCH',
    path: /^\/queues\/[^/]+\/[^/]+\/update-data$/,
    why: "a job's data is what Fortellis sent",
  },
];

export function refusedBoardAction(method: string, url: string): string | undefined {
  const path = url.split('?')[0]!.slice(`${QUEUE_BOARD_PATH}/api`.length);
  if (!url.startsWith(`${QUEUE_BOARD_PATH}/api/`)) return undefined;
  return REFUSED_ACTIONS.find((rule) => rule.method === method && rule.path.test(path))?.why;
}

export const queueBoard: FastifyPluginAsync<{ queues: readonly Queue[] }> = async (
  app,
  { queues },
) => {
  app.addHook('onRequest', async (request, reply) => {
    const why = refusedBoardAction(request.method, request.url);
    if (why !== undefined) {
      request.log.warn({ event: 'queue_action_refused', operator: request.operator, why }, why);
      await replyWithAppError(
        reply,
        new AppError(ERROR_CODES.actionNotAllowed, `this queue action is not allowed: ${why}`, {
          httpStatus: 403,
        }),
      );
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
