// Prometheus metrics shared by the services: a registry per process, queue and worker series,
// and the counter of calls to outside parties by outcome.
import { createServer, type Server } from 'node:http';
import type { Queue, Worker } from 'bullmq';
import { collectDefaultMetrics, Counter, Gauge, Registry } from 'prom-client';

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
  const counter = new Counter({
    name: 'outside_calls_total',
    help: 'Calls to outside parties (Fortellis callback, provider backend, status API) by outcome',
    labelNames: ['party', 'outcome'],
    registers: [registry],
  });
  return (party, outcome) => counter.inc({ party, outcome });
}

/** Records a pause of a worker's queue after a 429, and how long it is. */
export type RateLimitRecorder = (queue: string, pauseMs: number) => void;

export function rateLimitCounter(registry: Registry): RateLimitRecorder {
  const pauses = new Counter({
    name: 'queue_rate_limited_total',
    help: 'Pauses of a queue because an outside party answered 429',
    labelNames: ['queue'],
    registers: [registry],
  });
  const seconds = new Counter({
    name: 'queue_rate_limited_seconds_total',
    help: 'Seconds a queue was paused because an outside party answered 429',
    labelNames: ['queue'],
    registers: [registry],
  });
  return (queue, pauseMs) => {
    pauses.inc({ queue });
    seconds.inc({ queue }, pauseMs / 1000);
  };
}

/** Jobs completed and failed by a worker, queue depth by state, and age of the oldest waiting job. */
export function instrumentQueue(
  registry: Registry,
  queueName: string,
  worker: Worker,
  queue: Queue,
): void {
  const completed = new Counter({
    name: 'jobs_completed_total',
    help: 'Jobs completed',
    labelNames: ['queue', 'job'],
    registers: [registry],
  });
  const failed = new Counter({
    name: 'jobs_failed_total',
    help: 'Job attempts that failed; final="true" when the job will not be retried',
    labelNames: ['queue', 'job', 'final'],
    registers: [registry],
  });
  worker.on('completed', (job) => completed.inc({ queue: queueName, job: job.name }));
  worker.on('failed', (job, error) => {
    const final =
      job === undefined ||
      error.name === 'UnrecoverableError' ||
      job.attemptsMade >= (job.opts.attempts ?? 1);
    failed.inc({ queue: queueName, job: job?.name ?? 'unknown', final: String(final) });
  });
  new Gauge({
    name: 'queue_jobs',
    help: 'Jobs in the queue by state',
    labelNames: ['queue', 'state'],
    registers: [registry],
    async collect() {
      const counts = await queue.getJobCounts(
        'waiting',
        'active',
        'delayed',
        'failed',
        'prioritized',
      );
      for (const [state, count] of Object.entries(counts))
        this.set({ queue: queueName, state }, count);
    },
  });
  new Gauge({
    name: 'queue_oldest_waiting_job_age_seconds',
    help: 'Age of the oldest waiting job (0 when none waits)',
    labelNames: ['queue'],
    registers: [registry],
    async collect() {
      const [oldest] = await queue.getJobs(['waiting'], 0, 0, true);
      this.set(
        { queue: queueName },
        oldest === undefined ? 0 : Math.max(0, (Date.now() - oldest.timestamp) / 1000),
      );
    },
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
