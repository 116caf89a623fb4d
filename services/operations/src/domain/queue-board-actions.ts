// Which of Bull Board's write actions an operator may take: an allow-list, decided on the matched
// route and its decoded parameters (never on the URL text). Retry, promote, pause/resume, and
// cleaning completed or failed jobs are allowed; emptying or obliterating a queue, removing a
// waiting job, adding a job or editing one could lose or forge work Fortellis was told is
// accepted, and are refused: such work is recovered through the operations API instead.

/** Where Bull Board is mounted on the operations listener. */
export const QUEUE_BOARD_PATH = '/ops/queues';

/** Job states from which a job may be removed or cleaned. */
export const FINISHED_STATES: ReadonlySet<string> = new Set(['completed', 'failed']);

/** The route of removing one job, allowed for a finished job only (checked against its state). */
export const REMOVE_JOB_ROUTE = `${QUEUE_BOARD_PATH}/api/queues/:queueName/:jobId/clean`;

/** Retrying one job, and retrying every job in a state (the board's "retry all"). */
export const RETRY_JOB_ROUTE = `${QUEUE_BOARD_PATH}/api/queues/:queueName/:jobId/retry`;
export const RETRY_ALL_ROUTE = `${QUEUE_BOARD_PATH}/api/queues/:queueName/retry/:queueStatus`;

/**
 * The connection a job is about, from its data (`connectionId`, or an activation's), or undefined
 * for a job about none (the reconciler's run). A failed job's retry on the board also retries the
 * failed work of its connection, as the operators' `/retry` does: re-running the job alone would
 * find the connection failed and do nothing.
 */
export function connectionIdOfJob(data: unknown): string | undefined {
  if (typeof data !== 'object' || data === null) return undefined;
  const { connectionId, activation } = data as {
    connectionId?: unknown;
    activation?: { connectionId?: unknown };
  };
  const id = connectionId ?? activation?.connectionId;
  return typeof id === 'string' ? id : undefined;
}

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
      FINISHED_STATES.has(params.queueStatus ?? '')
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

/** Why removing a job in `state` is refused, or undefined when it may go ahead. */
export function refusedJobRemoval(state: string | undefined): string | undefined {
  return state !== undefined && state !== 'unknown' && !FINISHED_STATES.has(state)
    ? `the job is ${state}; only finished jobs may be removed`
    : undefined;
}
