// Every Prometheus series the services export, in one place: name, type, help, labels and which
// services serve it. Each service creates its metrics from here (`createMetric`), the README's
// metrics table is generated from here (`npm run docs:config`), and the monitoring pack's
// dashboard and alerts may name only these. Names carry one prefix, so they never collide with
// another application's in a shared Prometheus; the process metrics of prom-client keep their
// standard names (`process_*`, `nodejs_*`), which every Node.js dashboard expects.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

export const METRIC_PREFIX = 'fortellis_admin_';

export type ServiceName = 'ingress' | 'operations' | 'approval-worker' | 'deprovision-worker';
const WORKERS: ServiceName[] = ['approval-worker', 'deprovision-worker'];
const HTTP: ServiceName[] = ['ingress', 'operations'];

interface MetricDefinition {
  /** Without the prefix. */
  name: string;
  type: 'counter' | 'gauge' | 'histogram';
  help: string;
  labels: readonly string[];
  services: readonly ServiceName[];
  buckets?: readonly number[];
}

/** Seconds, from half a millisecond to ten seconds: HTTP answers and publishes. */
const FAST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10];
/** Seconds, from five milliseconds to two minutes: a job's run, its outside calls included. */
const JOB_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120];

export const METRICS = {
  httpRequests: {
    name: 'http_requests_total',
    type: 'counter',
    help: 'HTTP requests answered, by route and status',
    labels: ['route', 'status'],
    services: HTTP,
  },
  httpRequestDuration: {
    name: 'http_request_duration_seconds',
    type: 'histogram',
    help: 'Time from a request arriving to its answer being sent, by route and status',
    labels: ['route', 'status'],
    services: HTTP,
    buckets: FAST_BUCKETS,
  },
  authFailures: {
    name: 'auth_failures_total',
    type: 'counter',
    help: 'Bearer tokens refused, by reason',
    labels: ['reason'],
    services: ['ingress'],
  },
  enqueueDuration: {
    name: 'enqueue_duration_seconds',
    type: 'histogram',
    help: 'Time from publishing a job to Redis having stored it',
    labels: [],
    services: ['ingress'],
    buckets: FAST_BUCKETS,
  },
  jwksFetches: {
    name: 'jwks_fetches_total',
    type: 'counter',
    help: 'Fetches of the Fortellis signing keys (start-up, every 10 min, an unknown kid), by outcome: success or failure',
    labels: ['outcome'],
    services: ['ingress'],
  },
  jobsCompleted: {
    name: 'jobs_completed_total',
    type: 'counter',
    help: 'Jobs completed, by queue and job name',
    labels: ['queue', 'job'],
    services: WORKERS,
  },
  jobsFailed: {
    name: 'jobs_failed_total',
    type: 'counter',
    help: 'Job attempts that failed; final="true" when the job will not be retried',
    labels: ['queue', 'job', 'final'],
    services: WORKERS,
  },
  jobDuration: {
    name: 'job_duration_seconds',
    type: 'histogram',
    help: 'Time a job attempt ran, by queue, job name and outcome (completed or failed)',
    labels: ['queue', 'job', 'outcome'],
    services: WORKERS,
    buckets: JOB_BUCKETS,
  },
  jobsStalled: {
    name: 'jobs_stalled_total',
    type: 'counter',
    help: 'Jobs whose worker stopped renewing their lock (it died or hung), taken over by another',
    labels: ['queue'],
    services: WORKERS,
  },
  queueJobs: {
    name: 'queue_jobs',
    type: 'gauge',
    help: 'Jobs in the queue, by state',
    labels: ['queue', 'state'],
    services: WORKERS,
  },
  queueOldestWaitingJobAge: {
    name: 'queue_oldest_waiting_job_age_seconds',
    type: 'gauge',
    help: 'Age of the oldest waiting job (0 when none waits)',
    labels: ['queue'],
    services: WORKERS,
  },
  outsideCalls: {
    name: 'outside_calls_total',
    type: 'counter',
    help: 'Calls to outside parties (callback, backend, status), by outcome: success, retry, permanent, reauthenticate',
    labels: ['party', 'outcome'],
    services: WORKERS,
  },
  giveUps: {
    name: 'give_ups_total',
    type: 'counter',
    help: 'Outside calls given up for good (refused, or still failing past the retry horizon): provisioning, callback, cleanup, activationReport, deactivationReport',
    labels: ['work'],
    services: WORKERS,
  },
  queueRateLimited: {
    name: 'queue_rate_limited_total',
    type: 'counter',
    help: 'Pauses of a queue because an outside party answered 429',
    labels: ['queue'],
    services: WORKERS,
  },
  queueRateLimitedSeconds: {
    name: 'queue_rate_limited_seconds_total',
    type: 'counter',
    help: 'Seconds a queue was paused because an outside party answered 429',
    labels: ['queue'],
    services: WORKERS,
  },
  mongodbCommands: {
    name: 'mongodb_commands_total',
    type: 'counter',
    help: 'MongoDB commands sent, by name',
    labels: ['command'],
    services: WORKERS,
  },
  redisCommands: {
    name: 'redis_commands_total',
    type: 'counter',
    help: "Redis commands sent by the service's own code (locks, ledger; not BullMQ's), by connection and name",
    labels: ['client', 'command'],
    services: WORKERS,
  },
  redisMemoryUsed: {
    name: 'redis_memory_used_bytes',
    type: 'gauge',
    help: 'Memory Redis uses (INFO memory used_memory), as this worker sees it',
    labels: [],
    services: WORKERS,
  },
  redisMemoryMax: {
    name: 'redis_memory_max_bytes',
    type: 'gauge',
    help: 'The memory limit Redis is configured with (maxmemory; 0 when none)',
    labels: [],
    services: WORKERS,
  },
  oldestConnectionAge: {
    name: 'oldest_connection_age_seconds',
    type: 'gauge',
    help: 'Time since the longest-waiting connection in each waiting state last changed: received (a decision), pending_review (an operator), approved (a provisioning, a callback), rejected and suspending (a callback); 0 when none waits',
    labels: ['state'],
    services: ['operations'],
  },
} as const satisfies Record<string, MetricDefinition>;

export type MetricKey = keyof typeof METRICS;

/** The full name of a catalogued metric, prefix included. */
export function metricName(key: MetricKey): string {
  return `${METRIC_PREFIX}${METRICS[key].name}`;
}

type Made<K extends MetricKey> = (typeof METRICS)[K]['type'] extends 'counter'
  ? Counter
  : (typeof METRICS)[K]['type'] extends 'gauge'
    ? Gauge
    : Histogram;

/**
 * Registers a catalogued metric on `registry` (once: a second call returns the same series).
 * `collect` fills a gauge at scrape time.
 */
export function createMetric<K extends MetricKey>(
  registry: Registry,
  key: K,
  collect?: (this: Gauge) => Promise<void> | void,
): Made<K> {
  const definition: MetricDefinition = METRICS[key];
  const name = metricName(key);
  const existing = registry.getSingleMetric(name);
  if (existing !== undefined) return existing as Made<K>;
  const common = {
    name,
    help: definition.help,
    labelNames: [...definition.labels],
    registers: [registry],
  };
  switch (definition.type) {
    case 'counter':
      return new Counter(common) as Made<K>;
    case 'gauge':
      return new Gauge({ ...common, ...(collect === undefined ? {} : { collect }) }) as Made<K>;
    case 'histogram':
      return new Histogram({ ...common, buckets: [...(definition.buckets ?? [])] }) as Made<K>;
  }
}

/**
 * The catalogued metrics `service` should export that a scrape of it lacks (for its tests): each
 * appears at least with its `# TYPE` line once registered, before any observation.
 */
export function missingMetrics(scrape: string, service: ServiceName): string[] {
  return (Object.keys(METRICS) as MetricKey[])
    .filter((key) => (METRICS[key].services as readonly ServiceName[]).includes(service))
    .map(metricName)
    .filter((name) => !scrape.includes(`# TYPE ${name} `));
}
