// The reconciler: nothing is left stuck. A BullMQ job scheduler on each worker's queue publishes
// `ReconciliationDue` every interval; whichever worker takes it looks for connections that need
// that worker's work, have not changed for a while and have no live job (waiting, delayed or
// running), and publishes a `StalledConnectionFound` job for each, which moves the connection on as
// its lost job would have. Job ids carry the connection's version, so a connection that has not
// changed is published once, and a reconciler that runs twice adds nothing.
import type { Queue } from 'bullmq';
import {
  JOB_OPTIONS,
  jobIdFor,
  RECONCILER_JOB_NAMES,
  type StalledConnectionFoundJob,
} from '@fortellis-admin/contracts';
import type { Logger } from 'pino';

/** What the reconciler needs to know of a candidate connection. */
export interface StalledCandidate {
  connectionId: string;
  state: string;
  version: number;
}

/** The queue, as far as the reconciler uses it. */
export interface ReconcilerJobs {
  /** Whether any of these jobs is waiting, delayed, prioritized or running. */
  anyLive(jobIds: readonly string[]): Promise<boolean>;
  /** Publishes the job (idempotently, by its id). */
  publishStalled(job: StalledConnectionFoundJob): Promise<void>;
}

export interface ReconcilerSettings {
  /** How long a connection must have stayed unchanged before it counts as stalled. */
  stalledAfterMs: number;
  /** At most this many connections per run; the next run takes the rest. */
  batchSize: number;
}

export interface ReconcileDeps {
  findStalled(untouchedSince: Date, limit: number): Promise<StalledCandidate[]>;
  /** The ids of the jobs that would move this connection on, were they still live. */
  liveJobIdsOf(connectionId: string): string[];
  jobs: ReconcilerJobs;
  clock: { now(): Date };
  settings: ReconcilerSettings;
}

/** One run of the reconciler. Returns how many stalled connections it found and re-published. */
export async function reconcileStalled(
  deps: ReconcileDeps,
  log: Logger,
): Promise<{ found: number; published: number }> {
  const now = deps.clock.now();
  const candidates = await deps.findStalled(
    new Date(now.getTime() - deps.settings.stalledAfterMs),
    deps.settings.batchSize,
  );
  let published = 0;
  for (const candidate of candidates) {
    if (await deps.jobs.anyLive(deps.liveJobIdsOf(candidate.connectionId))) continue;
    await deps.jobs.publishStalled({
      connectionId: candidate.connectionId,
      state: candidate.state,
      version: candidate.version,
      foundAt: now.toISOString(),
    });
    published += 1;
    log.warn(
      { connectionId: candidate.connectionId, state: candidate.state },
      'stalled connection found: its work is published again',
    );
  }
  return { found: candidates.length, published };
}

const DONE_STATES = new Set(['completed', 'failed', 'unknown']);

/** The reconciler's view of a BullMQ queue. */
export function queueReconcilerJobs(queue: Queue): ReconcilerJobs {
  return {
    anyLive: async (jobIds) => {
      for (const id of jobIds) {
        if (!DONE_STATES.has(await queue.getJobState(id))) return true;
      }
      return false;
    },
    publishStalled: async (job) => {
      await queue.add(RECONCILER_JOB_NAMES.stalledConnectionFound, job, {
        ...JOB_OPTIONS,
        jobId: jobIdFor.stalledConnectionFound(job),
      });
    },
  };
}

/**
 * Installs (or updates) the job scheduler that publishes `ReconciliationDue` on `queue` every
 * `everyMs`. Idempotent: every worker process calls it at start, and there is one scheduler.
 */
export async function scheduleReconciliation(queue: Queue, everyMs: number): Promise<void> {
  await queue.upsertJobScheduler(
    SCHEDULER_ID,
    { every: everyMs },
    {
      name: RECONCILER_JOB_NAMES.reconciliationDue,
      data: {},
      opts: { attempts: 1, removeOnComplete: { count: 10 }, removeOnFail: { count: 100 } },
    },
  );
}

const SCHEDULER_ID = 'reconciliation';
const LIVE_STATES = new Set(['delayed', 'waiting', 'prioritized', 'active', 'waiting-children']);

/** Whether the scheduler's next run is a job in the queue (it is, but for a lost link). */
async function nextRunQueued(queue: Queue): Promise<boolean> {
  const next = (await queue.getJobScheduler(SCHEDULER_ID))?.next;
  if (next === undefined) return false;
  if (LIVE_STATES.has(await queue.getJobState(`repeat:${SCHEDULER_ID}:${next}`))) return true;
  // The run may have finished and added the next one meanwhile.
  return (await queue.getJobScheduler(SCHEDULER_ID))?.next !== next;
}

/**
 * Schedules the reconciler (as {@link scheduleReconciliation}), then checks every `everyMs` that its
 * next run is still queued. A scheduler is a chain: each run's job adds the next. A failover that
 * loses the last unreplicated writes (a primary killed) can lose the next link, and the reconciler
 * would never run again until a worker restarted (measured on Sentinel and on a Cluster). Only a
 * broken chain is installed again: re-installing a healthy one while a run is under way stalled a
 * worker on a Cluster.
 */
export async function keepReconciliationScheduled(
  queue: Queue,
  everyMs: number,
  logger: Pick<Logger, 'warn'>,
): Promise<{ stop(): void }> {
  await scheduleReconciliation(queue, everyMs);
  const heal = async (): Promise<void> => {
    if (await nextRunQueued(queue)) return;
    logger.warn({ queue: queue.name }, 'reconciler: its next run was lost; scheduling it again');
    await scheduleReconciliation(queue, everyMs);
  };
  const timer = setInterval(() => {
    heal().catch((error: unknown) =>
      logger.warn(
        { err: { message: (error as Error).message }, queue: queue.name },
        'reconciler schedule not checked; trying again later',
      ),
    );
  }, everyMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
