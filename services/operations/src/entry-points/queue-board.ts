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
import { retryFailedWork, type RetryPorts } from '../domain/failed-work-retry.ts';
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

export const queueBoard: FastifyPluginAsync<{
  queues: readonly Queue[];
  retry: RetryPorts;
}> = async (app, { queues, retry }) => {
  const byName = new Map(queues.map((queue) => [queue.name, queue]));
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
