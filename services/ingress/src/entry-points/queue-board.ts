// Bull Board at /ops/queues: every queue of the system, for authenticated operators only
// (registered inside the operations listener's protected scope). Reading is open; of the board's
// write actions, only those that cannot lose or forge work Fortellis was told is accepted are
// allowed (an allow-list, decided on the matched route and its decoded parameters, never on the
// URL text): retry, promote, pause/resume, and cleaning completed or failed jobs. Emptying or
// obliterating a queue, removing a waiting job, adding a job or editing one are refused: such
// work is recovered through the operations API instead.
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ERROR_CODES } from '@fortellis-admin/contracts';
import { replyWithAppError } from './error-handler.ts';

export const QUEUE_BOARD_PATH = '/ops/queues';

const FINISHED = new Set(['completed', 'failed']);

/**
 * The board's write routes that are allowed (method and route pattern under the board's path),
 * each with the condition its parameters must meet. Every other write is refused.
 */
type Condition = (params: Record<string, string>) => string | undefined;
const ALLOWED_WRITES: ReadonlyMap<string, Condition> = new Map<string, Condition>([
  ['PUT /api/queues/pause', () => undefined],
  ['PUT /api/queues/resume', () => undefined],
  ['PUT /api/queues/:queueName/pause', () => undefined],
  ['PUT /api/queues/:queueName/resume', () => undefined],
  ['PUT /api/queues/:queueName/promote', () => undefined],
  ['PUT /api/queues/:queueName/retry/:queueStatus', () => undefined],
  ['PUT /api/queues/:queueName/:jobId/retry', () => undefined],
  ['PUT /api/queues/:queueName/:jobId/promote', () => undefined],
  [
    'PUT /api/queues/:queueName/clean/:queueStatus',
    (params) =>
      FINISHED.has(params.queueStatus ?? '')
        ? undefined
        : 'only completed and failed jobs may be cleaned',
  ],
  // Removing one job: allowed for a finished job only (checked against the job's state).
  ['PUT /api/queues/:queueName/:jobId/clean', () => undefined],
]);

const READS = new Set(['GET', 'HEAD']);

/** Why a board request is refused, or undefined when it may go ahead. */
export function refusedBoardAction(
  method: string,
  routePattern: string | undefined,
  params: Record<string, string>,
): string | undefined {
  if (READS.has(method)) return undefined;
  const route = routePattern?.startsWith(QUEUE_BOARD_PATH)
    ? routePattern.slice(QUEUE_BOARD_PATH.length)
    : undefined;
  const allowed = route === undefined ? undefined : ALLOWED_WRITES.get(`${method} ${route}`);
  if (allowed === undefined) return 'it could lose or forge acknowledged work';
  return allowed(params);
}

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
    if (request.routeOptions.url === `${QUEUE_BOARD_PATH}/api/queues/:queueName/:jobId/clean`) {
      const queue = byName.get(params.queueName ?? '');
      const state = queue === undefined ? undefined : await queue.getJobState(params.jobId ?? '');
      if (state !== undefined && state !== 'unknown' && !FINISHED.has(state)) {
        await refuse(request, reply, `the job is ${state}; only finished jobs may be removed`);
      }
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
