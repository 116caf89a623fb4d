// Bull Board at /ops/queues: every queue of the system, for authenticated operators only
// (registered inside the operations listener's protected scope). Reading needs the viewer role;
// every write needs admin (refused server-side before Bull Board sees it) and then goes through
// the allow-list of domain/queue-board-actions.ts. Below admin, the board is shown read-only.
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { Queue } from 'bullmq';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import { AppError, ERROR_CODES } from '@fortellis-admin/contracts';
import { replyWithAppError } from '@fortellis-admin/service-kit';
import { retryFailedWork, type RetryPorts } from '../domain/failed-work-retry.ts';
import { roleAllows } from '../domain/operator-roles.ts';
import {
  connectionIdOfJob,
  QUEUE_BOARD_PATH,
  REMOVE_JOB_ROUTE,
  RETRY_ALL_ROUTE,
  RETRY_JOB_ROUTE,
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

/**
 * Retries the failed work of the connections of the failed jobs the board is about to retry,
 * publishing first: a publish that fails stops the board's retry with the error. A job whose
 * connection has nothing failed (or that names none) is only re-run.
 */
async function retryConnectionsOf(
  request: FastifyRequest,
  ports: RetryPorts,
  jobs: ReadonlyArray<{ data: unknown } | undefined>,
): Promise<void> {
  const ids = new Set(jobs.map((job) => connectionIdOfJob(job?.data)));
  for (const connectionId of ids) {
    if (connectionId === undefined) continue;
    try {
      const queued = await retryFailedWork(ports, {
        connectionId,
        operator: request.operator ?? '',
        requestId: request.id,
      });
      request.log.info(
        { event: 'board_retry', connectionId, retried: queued.retried },
        'failed work retried from the queue board',
      );
    } catch (error) {
      if (!(error instanceof AppError) || (error.httpStatus !== 404 && error.httpStatus !== 409))
        throw error;
    }
  }
}

const READ_METHODS: ReadonlySet<string> = new Set(['GET', 'HEAD']);

/** The board's list of queues, which its page reads each queue's readOnlyMode from. */
const QUEUES_LIST_ROUTE = `${QUEUE_BOARD_PATH}/api/queues`;

/** The queue list as a read-only board shows it: no queue writable, no retries offered. */
function readOnlyQueues(payload: string): string {
  try {
    const body = JSON.parse(payload) as { queues?: Array<Record<string, unknown>> };
    for (const queue of body.queues ?? []) {
      queue.readOnlyMode = true;
      queue.allowRetries = false;
      queue.allowCompletedRetries = false;
    }
    return JSON.stringify(body);
  } catch {
    return payload;
  }
}

export const queueBoard: FastifyPluginAsync<{
  queues: readonly Queue[];
  retry: RetryPorts;
}> = async (app, { queues, retry }) => {
  const byName = new Map(queues.map((queue) => [queue.name, queue]));
  // Every route of the board (its API, its page, its static files): reading needs viewer,
  // anything else admin.
  app.addHook('onRoute', (route) => {
    const methods = [route.method].flat();
    route.config = {
      ...route.config,
      role: methods.every((method) => READ_METHODS.has(method)) ? 'viewer' : 'admin',
    };
  });
  // Bull Board hides its buttons for a queue in readOnlyMode: below admin, every queue says so.
  app.addHook('onSend', async (request, _reply, payload) => {
    if (
      request.routeOptions.url !== QUEUES_LIST_ROUTE ||
      request.operatorRole === null ||
      roleAllows(request.operatorRole, 'admin') ||
      typeof payload !== 'string'
    )
      return payload;
    return readOnlyQueues(payload);
  });
  app.addHook('preHandler', async (request, reply) => {
    const params = request.params as Record<string, string>;
    const why = refusedBoardAction(request.method, request.routeOptions.url, params);
    if (why !== undefined) {
      await refuse(request, reply, why);
      return;
    }
    const queue = byName.get(params.queueName ?? '');
    if (queue !== undefined && request.routeOptions.url === RETRY_JOB_ROUTE) {
      if ((await queue.getJobState(params.jobId ?? '')) === 'failed')
        await retryConnectionsOf(request, retry, [await queue.getJob(params.jobId ?? '')]);
    }
    if (
      queue !== undefined &&
      request.routeOptions.url === RETRY_ALL_ROUTE &&
      params.queueStatus === 'failed'
    )
      await retryConnectionsOf(request, retry, await queue.getFailed());
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
          { text: 'Connections', url: '/ops/console' },
          { text: 'Operations API', url: '/ops/docs' },
          { text: 'Log out', url: '/ops/logout' },
        ],
      },
    },
  });
  await app.register(serverAdapter.registerPlugin(), { prefix: QUEUE_BOARD_PATH });
};
