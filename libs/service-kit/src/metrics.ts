// Prometheus metrics shared by the services: a registry per process, queue and worker series,
// calls to outside parties, give-ups and rate-limit pauses. Names and help come from the catalog
// (metric-catalog.ts).
import { createServer, type Server } from 'node:http';
import type { Job, Queue, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { createMetric } from './metric-catalog.ts';

/** A registry with the process's default metrics, every series labelled with the service. */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** Records one call to an outside party (callback, backend, status) by its outcome. */
export type OutsideCallRecorder = (
  party: 'callback' | 'backend' | 'status',
  outcome: string,
) => void;

export function outsideCallCounter(registry: Registry): OutsideCallRecorder {
  const counter = createMetric(registry, 'outsideCalls');
  return (party, outcome) => counter.inc({ party, outcome });
}

/** Records an outside call given up for good, by the work it was (callback, a deprovision step). */
export type GiveUpRecorder = (work: string) => void;

export function giveUpCounter(registry: Registry): GiveUpRecorder {
  const counter = createMetric(registry, 'giveUps');
  return (work) => counter.inc({ work });
}

/** Records a pause of a worker's queue after a 429, and how long it is. */
export type RateLimitRecorder = (queue: string, pauseMs: number) => void;

/** A worker's metric recorders, as its wiring takes them: each left out where nothing is counted. */
export interface WorkerRecorders {
  recordCall?: OutsideCallRecorder;
  recordRateLimit?: RateLimitRecorder;
  recordGiveUp?: GiveUpRecorder;
}

/** The recorders `from` holds, and no property for one it lacks (`exactOptionalPropertyTypes`). */
export function givenRecorders(from: WorkerRecorders): WorkerRecorders {
  return {
    ...(from.recordCall === undefined ? {} : { recordCall: from.recordCall }),
    ...(from.recordGiveUp === undefined ? {} : { recordGiveUp: from.recordGiveUp }),
    ...(from.recordRateLimit === undefined ? {} : { recordRateLimit: from.recordRateLimit }),
  };
}

export function rateLimitCounter(registry: Registry): RateLimitRecorder {
  const pauses = createMetric(registry, 'queueRateLimited');
  const seconds = createMetric(registry, 'queueRateLimitedSeconds');
  return (queue, pauseMs) => {
    pauses.inc({ queue });
    seconds.inc({ queue }, pauseMs / 1000);
  };
}

/**
 * A worker's job series: completed and failed jobs, how long each attempt ran, jobs taken over
 * after their worker stopped renewing the lock, queue depth by state, and the oldest waiting job.
 */
export function instrumentQueue(
  registry: Registry,
  queueName: string,
  worker: Worker,
  queue: Queue,
): void {
  const completed = createMetric(registry, 'jobsCompleted');
  const failed = createMetric(registry, 'jobsFailed');
  const duration = createMetric(registry, 'jobDuration');
  const stalled = createMetric(registry, 'jobsStalled');
  const ran = (job: Job | undefined, outcome: 'completed' | 'failed'): void => {
    if (job?.processedOn === undefined || job.finishedOn === undefined) return;
    duration.observe(
      { queue: queueName, job: job.name, outcome },
      Math.max(0, job.finishedOn - job.processedOn) / 1000,
    );
  };
  worker.on('completed', (job) => {
    completed.inc({ queue: queueName, job: job.name });
    ran(job, 'completed');
  });
  worker.on('failed', (job, error) => {
    const final =
      job === undefined ||
      error.name === 'UnrecoverableError' ||
      job.attemptsMade >= (job.opts.attempts ?? 1);
    failed.inc({ queue: queueName, job: job?.name ?? 'unknown', final: String(final) });
    ran(job, 'failed');
  });
  worker.on('stalled', () => stalled.inc({ queue: queueName }));
  createMetric(registry, 'queueJobs', async function collect() {
    const counts = await queue.getJobCounts(
      'waiting',
      'active',
      'delayed',
      'failed',
      'prioritized',
    );
    for (const [state, count] of Object.entries(counts))
      this.set({ queue: queueName, state }, count);
  });
  // Redis's memory against its limit: BullMQ's data must never be evicted (noeviction) nor refused.
  let memory: Promise<{ used: number; max: number } | undefined> | undefined;
  const readMemory = () =>
    (memory ??= queue.backend.client
      .then((client) => (client as unknown as Redis).info('memory'))
      .then((info) => ({
        used: Number(/used_memory:(\d+)/.exec(info)?.[1] ?? Number.NaN),
        max: Number(/maxmemory:(\d+)/.exec(info)?.[1] ?? Number.NaN),
      }))
      .catch(() => undefined)
      .finally(() => setTimeout(() => (memory = undefined), 1000).unref()));
  createMetric(registry, 'redisMemoryUsed', async function collect() {
    const read = await readMemory();
    if (read === undefined) this.reset();
    else this.set(read.used);
  });
  createMetric(registry, 'redisMemoryMax', async function collect() {
    const read = await readMemory();
    if (read === undefined) this.reset();
    else this.set(read.max);
  });
  createMetric(registry, 'queueOldestWaitingJobAge', async function collect() {
    const [oldest] = await queue.getJobs(['waiting'], 0, 0, true);
    this.set(
      { queue: queueName },
      oldest === undefined ? 0 : Math.max(0, (Date.now() - oldest.timestamp) / 1000),
    );
  });
}

/**
 * The small HTTP listener of a worker: `/health` (the process runs), `/ready` (its dependencies
 * answer) and `/metrics` (Prometheus text format).
 */
export async function startMonitoringServer(options: {
  host: string;
  port: number;
  registry: Registry;
  ready: () => Promise<Record<string, boolean>>;
}): Promise<{ server: Server; port: number; close(): Promise<void> }> {
  const server = createServer((request, response) => {
    const send = (status: number, type: string, body: string) => {
      response.writeHead(status, { 'content-type': type });
      response.end(body);
    };
    const path = (request.url ?? '/').split('?')[0];
    if (request.method !== 'GET')
      return send(
        405,
        'application/json',
        JSON.stringify({ code: 405, message: 'method not allowed' }),
      );
    if (path === '/health') return send(200, 'application/json', JSON.stringify({ status: 'up' }));
    if (path === '/ready') {
      void options.ready().then(
        (checks) => {
          const ok = Object.values(checks).every(Boolean);
          send(
            ok ? 200 : 503,
            'application/json',
            JSON.stringify({
              status: ok ? 'ready' : 'not_ready',
              checks: Object.fromEntries(
                Object.entries(checks).map(([k, v]) => [k, v ? 'up' : 'down']),
              ),
            }),
          );
        },
        () => send(503, 'application/json', JSON.stringify({ status: 'not_ready' })),
      );
      return;
    }
    if (path === '/metrics') {
      void options.registry.metrics().then(
        (text) => send(200, options.registry.contentType, text),
        () =>
          send(
            500,
            'application/json',
            JSON.stringify({ code: 500, message: 'metrics unavailable' }),
          ),
      );
      return;
    }
    send(404, 'application/json', JSON.stringify({ code: 404, message: 'not found' }));
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address !== null ? address.port : options.port;
  return {
    server,
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
