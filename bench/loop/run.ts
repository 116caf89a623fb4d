// Whole-loop benchmark: the ingress and both workers as processes (as `npm run dev` starts them)
// against Redis, the MongoDB-wire server and the simulator. For each stored-connection count given
// with --preload it starts on a fresh database, stores that many accepted connections, then runs
// N activations followed by their N deactivations, first at a fixed offered rate, then flat out,
// and prints beside the stored-connection count:
//
// - throughput of each phase (calls answered and their work finished, per second);
// - time from the ingress's 200 to the callback reaching the simulator, and to the deactivation's
//   report being recorded (p50, p99);
// - MongoDB commands per activation and per deactivation (the workers' driver command monitoring),
//   Redis commands per call: the services' own (locks, ledger) apart from all others (BullMQ's
//   scripts and the ingress's fenced publish), which are Redis's own totals minus the former;
// - CPU ms per call of each service (from /proc), and peak RSS of each service over the run;
// - CPU ms per call of the MongoDB-wire server when it runs here: FerretDB and, on PostgreSQL, the
//   backends serving its database (where the store's cost goes as the data grows).
//
// Redis and MongoDB come from REDIS_URL / MONGODB_URL, else as the tests resolve them (a local
// redis-server with appendfsync always, FerretDB on SQLite).
//
//   npm run bench:loop [-- --count 200 --rate 50 --concurrency 32 --preload 1000,20000
//                         --worker-concurrency 8 --provisioner http|none|http,none]
//
// `--rate 0` runs the flat-out phases only. Several `--provisioner` values run each stored count
// with each, in the same run (a fresh stack each); a `--preload` value may repeat (2000,21000,2000).
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { MongoClient, type Collection } from 'mongodb';
import type { ConnectionDocument } from '@fortellis-admin/connection-store';
import { metricName } from '@fortellis-admin/service-kit';
import {
  ActivationGenerator,
  FortellisCaller,
  startSimulator,
  type CallResult,
  type Simulator,
} from '@fortellis-admin/simulator';
import {
  createTestNamespace,
  freePort,
  resolveMongo,
  resolveRedis,
  startService,
  type ManagedProcess,
  type ServiceName,
} from '@fortellis-admin/test-support';
import { imageNodeFlags, memoryLimitMiB } from '../image-settings.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '200' },
    rate: { type: 'string', default: '50' },
    concurrency: { type: 'string', default: '32' },
    preload: { type: 'string', default: '1000,20000' },
    /** WORKER_CONCURRENCY of both workers; their own default (8) when not given. */
    'worker-concurrency': { type: 'string' },
    /**
     * BACKEND_PROVISIONER of the approval worker: http (the simulator's backend) or none; a list
     * runs each.
     */
    provisioner: { type: 'string', default: 'http' },
    /** image: each service with its image's Node flags (deploy/Dockerfile's CMD); node: Node's defaults. */
    'node-flags': { type: 'string', default: 'image' },
  },
});
if (!['image', 'node'].includes(values['node-flags']))
  throw new Error('--node-flags is image or node');
const provisioners = values.provisioner.split(',');
if (!provisioners.every((p) => ['http', 'none'].includes(p)))
  throw new Error('--provisioner is http, none, or a list of them');
const workerConcurrency = values['worker-concurrency'];
const count = Number(values.count);
const rate = Number(values.rate);
const concurrency = Number(values.concurrency);
const preloads = values.preload.split(',').map(Number);

const SERVICES: ServiceName[] = ['ingress', 'approval-worker', 'deprovision-worker'];

interface Stack {
  ingressUrl: string;
  services: Map<ServiceName, { process: ManagedProcess; metricsUrl: string }>;
  connections: Collection<ConnectionDocument>;
  stop(): Promise<void>;
}

/** Counters read before and after a stretch of work. */
interface Counters {
  mongo: number;
  redisApp: number;
  redisTotal: number;
  /** Scripts Redis ran (EVALSHA, EVAL, FCALL): each is one round trip however many calls it makes. */
  redisScripts: number;
  /** CPU time each service has used, in ms. */
  cpuMs: number[];
  /** CPU time of the local FerretDB and of each PostgreSQL backend serving it, in ms, by pid. */
  storeCpuMs: { ferret: number; backends: Map<number, number> };
}

interface PhaseResult {
  throughput: number;
  p50: number;
  p99: number;
  refused: number;
  mongo: number;
  redisApp: number;
  redisOther: number;
  redisScripts: number;
  /** CPU ms per call of the ingress, the approval worker and the deprovision worker. */
  cpuMs: number[];
  /** CPU ms per call of the local FerretDB and of its PostgreSQL backends. */
  storeCpuMs: [number, number];
}

/** CPU time (user + system) a process has used, in ms, from /proc (clock ticks of 10 ms). */
function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

/** CPU ms of a process, or undefined when it has gone. */
function cpuMsOrGone(pid: number): number | undefined {
  try {
    return cpuMsOf(pid);
  } catch {
    return undefined;
  }
}

/**
 * The local FerretDB behind `mongoUrl` (found by its listen address) and, when it runs on
 * PostgreSQL, how to ask which backends serve its database. Undefined for a server not started
 * here (MONGODB_URL, a container).
 */
function findLocalStore(
  mongoUrl: string,
): { pid: number; backendPids: () => number[] } | undefined {
  const listen = `--listen-addr=127.0.0.1:${new URL(mongoUrl).port}`;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let args: string[];
    try {
      args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!args.includes(listen)) continue;
    const postgresUrl = args
      .find((arg) => arg.startsWith('--postgresql-url='))
      ?.slice('--postgresql-url='.length);
    return {
      pid: Number(entry),
      backendPids: () =>
        postgresUrl === undefined
          ? []
          : execFileSync(
              'psql',
              [
                '-X',
                '-At',
                postgresUrl,
                '-c',
                'select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()',
              ],
              { encoding: 'utf8', timeout: 10_000 },
            )
              .split('\n')
              .filter((line) => line.trim() !== '')
              .map(Number),
    };
  }
  return undefined;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** The sum of every series of `name` in a Prometheus text page. */
function sumOf(text: string, name: string): number {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

/**
 * Redis's own count of the commands it ran since it started (INFO commandstats), those inside
 * scripts included, and of the scripts themselves.
 */
async function redisCalls(redis: Redis): Promise<{ total: number; scripts: number }> {
  const info = await redis.info('commandstats');
  let total = 0;
  let scripts = 0;
  for (const match of info.matchAll(/cmdstat_([a-z|_]+):calls=(\d+)/g)) {
    const calls = Number(match[2]);
    total += calls;
    if (['evalsha', 'eval', 'fcall', 'evalsha_ro', 'eval_ro'].includes(match[1] ?? ''))
      scripts += calls;
  }
  return { total, scripts };
}

async function readCounters(stack: Stack, redis: Redis): Promise<Counters> {
  let mongo = 0;
  let redisApp = 0;
  for (const name of ['approval-worker', 'deprovision-worker'] as const) {
    const text = await (await fetch(stack.services.get(name)!.metricsUrl)).text();
    mongo += sumOf(text, metricName('mongodbCommands'));
    redisApp += sumOf(text, metricName('redisCommands'));
  }
  const calls = await redisCalls(redis);
  const cpuMs = SERVICES.map((name) => cpuMsOf(stack.services.get(name)!.process.child.pid!));
  const backends = new Map<number, number>();
  for (const pid of localStore?.backendPids() ?? []) {
    const ms = cpuMsOrGone(pid);
    if (ms !== undefined) backends.set(pid, ms);
  }
  const storeCpuMs = {
    ferret: localStore === undefined ? Number.NaN : (cpuMsOrGone(localStore.pid) ?? Number.NaN),
    backends,
  };
  return {
    mongo,
    redisApp,
    redisTotal: calls.total,
    redisScripts: calls.scripts,
    cpuMs,
    storeCpuMs,
  };
}

/** Peak resident set size of a process, in MB (VmHWM). */
function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? Number.NaN);
  return kb / 1024;
}

async function startStack(
  sim: Simulator,
  urls: { redis: string; mongo: string },
  label: string,
  provisioner: string,
): Promise<Stack> {
  const ns = createTestNamespace(label);
  const port = await freePort();
  const common: Record<string, string> = {
    ...sim.env(),
    REDIS_URL: urls.redis,
    MONGODB_URL: urls.mongo,
    MONGODB_DATABASE: ns.dbName,
    QUEUE_PREFIX: ns.queuePrefix,
    HOST: '127.0.0.1',
    MONITORING_HOST: '127.0.0.1',
    PORT: String(port),
    APPROVAL_DEFAULT_ACTION: 'approve',
    // The default (20/s) protects Fortellis; the benchmark measures what the system itself costs.
    CALLBACK_RATE_LIMIT_PER_SECOND: '10000',
    LOG_LEVEL: 'info',
    ...(workerConcurrency === undefined ? {} : { WORKER_CONCURRENCY: workerConcurrency }),
    BACKEND_PROVISIONER: provisioner,
  };
  const services: Stack['services'] = new Map();
  for (const name of SERVICES) {
    const monitoringPort = await freePort();
    const process = await startService(name, {
      ...common,
      MONITORING_PORT: String(monitoringPort),
      ...(values['node-flags'] === 'image' ? { NODE_OPTIONS: imageNodeFlags(name) } : {}),
    });
    services.set(name, { process, metricsUrl: `http://127.0.0.1:${monitoringPort}/metrics` });
  }
  const mongo = new MongoClient(urls.mongo);
  await mongo.connect();
  return {
    ingressUrl: `http://127.0.0.1:${port}`,
    services,
    connections: mongo.db(ns.dbName).collection<ConnectionDocument>('connections'),
    stop: async () => {
      for (const { process } of services.values()) await process.stop();
      await mongo.db(ns.dbName).dropDatabase();
      await mongo.close();
    },
  };
}

/** Stores `k` accepted connections, as the approval worker leaves them. */
async function preload(connections: Collection<ConnectionDocument>, k: number): Promise<void> {
  const generator = new ActivationGenerator(99_000 + k);
  const now = new Date();
  for (let done = 0; done < k; done += 1000) {
    const batch: ConnectionDocument[] = [];
    for (let i = done; i < Math.min(k, done + 1000); i += 1) {
      const activation = generator.next();
      batch.push({
        _id: activation.connectionId.toLowerCase(),
        connectionId: activation.connectionId,
        subscriptionId: activation.subscriptionId,
        organizationId: activation.organizationInfo.id,
        apiId: activation.apiInfo.id,
        state: 'accepted',
        version: 4,
        activation,
        requestId: `preload-${i}`,
        receivedAt: now,
        decision: { action: 'approve', ruleId: 'default', decidedBy: 'rules', decidedAt: now },
        callback: { status: 'accepted', attempts: 1, outcome: 'acknowledged', completedAt: now },
        acceptanceAnnounced: true,
        history: [],
        createdAt: now,
        updatedAt: now,
      });
    }
    await connections.insertMany(batch, { ordered: false });
  }
}

/** Sends the calls at `rate` per second, or flat out over `concurrency` streams. */
async function send(
  total: number,
  call: (i: number) => Promise<CallResult>,
  pacing: { rate?: number; concurrency: number },
): Promise<CallResult[]> {
  const results = new Array<CallResult>(total);
  let next = 0;
  const start = performance.now();
  const streams = pacing.rate === undefined ? pacing.concurrency : Math.min(total, 256);
  await Promise.all(
    Array.from({ length: streams }, async () => {
      for (;;) {
        const i = next;
        next += 1;
        if (i >= total) return;
        if (pacing.rate !== undefined) {
          const wait = start + (i * 1000) / pacing.rate - performance.now();
          if (wait > 0) await delay(wait);
        }
        results[i] = await call(i);
      }
    }),
  );
  return results;
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await delay(100);
  }
}

/** N activations, then their N deactivations, with the given pacing. */
async function runPhases(
  stack: Stack,
  sim: Simulator,
  redis: Redis,
  caller: FortellisCaller,
  pacing: { rate?: number; concurrency: number },
): Promise<{ activate: PhaseResult; deactivate: PhaseResult }> {
  // Activations: answered, then each callback reaches the simulator.
  const before = await readCounters(stack, redis);
  const startedAt = Date.now();
  const payloads = Array.from({ length: count }, () => caller.generator.next());
  const activations = await send(count, (i) => caller.activate(payloads[i]), pacing);
  const ok = activations.filter((r) => r.status === 200);
  const wanted = new Set(ok.map((r) => r.connectionId));
  const callbackAt = new Map<string, number>();
  await until(
    'every callback arrived',
    async () => {
      for (const call of sim.calls('callback')) {
        const id = call.params.connectionId ?? '';
        if (call.status === 200 && wanted.has(id) && !callbackAt.has(id))
          callbackAt.set(id, call.at.getTime());
      }
      return callbackAt.size === wanted.size;
    },
    300_000,
  );
  // The job goes on a moment after the callback (the acceptance is recorded and announced).
  // One look-up by _id per connection not yet seen announced: FerretDB serves `$in` from no index,
  // so a count over all of them would scan every connection stored, ten times a second.
  const unannounced = new Set([...wanted].map((id) => id.toLowerCase()));
  await until(
    'every activation is recorded accepted and announced',
    async () => {
      for (const id of [...unannounced]) {
        const found = await stack.connections.findOne(
          { _id: id, acceptanceAnnounced: true },
          { projection: { _id: 1 } },
        );
        if (found !== null) unannounced.delete(id);
      }
      return unannounced.size === 0;
    },
    60_000,
  );
  const activatedAt = Math.max(...callbackAt.values());
  const afterActivations = await readCounters(stack, redis);
  const activate = result(
    ok.map((r) => (callbackAt.get(r.connectionId) ?? Number.NaN) - r.answeredAt),
    ok.length,
    activatedAt - startedAt,
    activations.length - ok.length,
    before,
    afterActivations,
  );

  // Deactivations: answered, then each report recorded.
  const deactivationStart = Date.now();
  const ids = [...wanted];
  const deactivations = await send(ids.length, (i) => caller.deactivate(ids[i] ?? ''), pacing);
  const gone = deactivations.filter((r) => r.status === 200);
  const reportedAt = new Map<string, number>();
  await until(
    'every deactivation is reported',
    async () => {
      const done = await stack.connections
        .find(
          {
            // `state` first narrows the look-up to the deactivated connections (FerretDB serves
            // neither `$in` nor a nested field from an index: alone they scan every connection
            // stored, ten times a second, and the benchmark would measure its own polling).
            state: 'deactivated',
            _id: { $in: gone.map((r) => r.connectionId.toLowerCase()) },
            'steps.deactivationReport.status': 'done',
          },
          { projection: { connectionId: 1, 'steps.deactivationReport.completedAt': 1 } },
        )
        .toArray();
      for (const doc of done) {
        const at = doc.steps?.deactivationReport?.completedAt;
        if (at !== undefined) reportedAt.set(doc.connectionId, at.getTime());
      }
      return reportedAt.size === gone.length;
    },
    300_000,
  );
  const afterDeactivations = await readCounters(stack, redis);
  const deactivate = result(
    gone.map((r) => (reportedAt.get(r.connectionId) ?? Number.NaN) - r.answeredAt),
    gone.length,
    Math.max(...reportedAt.values()) - deactivationStart,
    deactivations.length - gone.length,
    afterActivations,
    afterDeactivations,
  );
  return { activate, deactivate };
}

function result(
  latencies: number[],
  done: number,
  elapsedMs: number,
  refused: number,
  before: Counters,
  after: Counters,
): PhaseResult {
  const sorted = latencies.filter(Number.isFinite).sort((a, b) => a - b);
  const per = (n: number) => n / Math.max(1, done);
  const app = after.redisApp - before.redisApp;
  return {
    throughput: (done * 1000) / elapsedMs,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    refused,
    mongo: per(after.mongo - before.mongo),
    redisApp: per(app),
    redisOther: per(after.redisTotal - before.redisTotal - app),
    redisScripts: per(after.redisScripts - before.redisScripts),
    cpuMs: after.cpuMs.map((ms, i) => per(ms - (before.cpuMs[i] ?? 0))),
    storeCpuMs: [
      per(after.storeCpuMs.ferret - before.storeCpuMs.ferret),
      // A backend that ended during the phase is missed: FerretDB's pool keeps them open.
      per(
        [...after.storeCpuMs.backends].reduce(
          (sum, [pid, ms]) => sum + ms - (before.storeCpuMs.backends.get(pid) ?? 0),
          0,
        ),
      ),
    ],
  };
}

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

const [redisEndpoint, mongoEndpoint] = await Promise.all([resolveRedis(), resolveMongo()]);
const localStore = findLocalStore(mongoEndpoint.url);
const sim = await startSimulator();
const redis = new Redis(redisEndpoint.url);
const header = [
  'prov',
  ' stored',
  'offered  ',
  'phase     ',
  '  per s',
  'p50 ms',
  ' p99 ms',
  'refused',
  'mongo/c',
  'redis own',
  'redis other',
  'scripts',
  'cpu ms/c in/ap/dp',
  'db ms/c fe/pg',
].join(' ');
const rows: string[] = [];
const rss: string[] = [];
try {
  console.log(
    `bench:loop: ${count} activations then ${count} deactivations, ${rate > 0 ? `at ${rate}/s and ` : ''}flat out ` +
      `(${concurrency} streams, worker concurrency ${workerConcurrency ?? 'default'}, provisioner ${values.provisioner}); redis ${redisEndpoint.source}, mongodb ${mongoEndpoint.source} ${mongoEndpoint.backend ?? ''}`,
  );
  // Each row as it is measured (a run that fails later keeps what it measured), all at the end.
  console.log(header);
  // The simulator keeps every call of the run: each stack's connections are its own (seed).
  const stacks = preloads.flatMap((k) => provisioners.map((p) => [k, p] as const));
  for (const [index, [k, provisioner]] of stacks.entries()) {
    const stack = await startStack(
      sim,
      { redis: redisEndpoint.url, mongo: mongoEndpoint.url },
      `loop${k}`,
      provisioner,
    );
    try {
      await preload(stack.connections, k);
      const caller = new FortellisCaller({
        adminApiUrl: stack.ingressUrl,
        token: (() => {
          const token = sim.identity.mint(sim.providerClient.clientId);
          return () => token;
        })(),
        seed: 5000 + k + 1_000_000 * index,
        connections: Math.max(concurrency, 64),
        timeoutMs: 60_000,
      });
      const phases = [
        ...(rate > 0 ? [[`${rate}/s`, { rate, concurrency }] as const] : []),
        ['flat out', { concurrency }] as const,
      ];
      for (const [label, pacing] of phases) {
        const stored = await stack.connections.estimatedDocumentCount();
        const { activate, deactivate } = await runPhases(stack, sim, redis, caller, pacing);
        for (const [kind, r] of [
          ['activate', activate],
          ['deactivate', deactivate],
        ] as const) {
          const row = [
            provisioner.padEnd(4),
            String(stored).padStart(7),
            label.padEnd(9),
            kind.padEnd(10),
            fmt(r.throughput).padStart(7),
            fmt(r.p50, 0).padStart(7),
            fmt(r.p99, 0).padStart(7),
            String(r.refused).padStart(7),
            fmt(r.mongo).padStart(7),
            fmt(r.redisApp).padStart(9),
            fmt(r.redisOther).padStart(11),
            fmt(r.redisScripts).padStart(7),
            r.cpuMs
              .map((ms) => fmt(ms, 2))
              .join('/')
              .padStart(16),
            r.storeCpuMs
              .map((ms) => fmt(ms, 2))
              .join('/')
              .padStart(11),
          ].join(' ');
          rows.push(row);
          console.log(row);
        }
      }
      await caller.close();
      const peak =
        `${provisioner.padEnd(4)} ${String(k).padStart(7)} preloaded: peak RSS ` +
        [...stack.services.entries()]
          .map(([name, s]) => {
            const mb = peakRssMb(s.process.child.pid!);
            // The share of the memory limit the deployment gives the service (target ≤ 70%).
            const share = mb / memoryLimitMiB(name);
            return `${name} ${fmt(mb, 0)} MB (${fmt(share * 100, 0)}% of its limit)`;
          })
          .join(', ');
      rss.push(peak);
      console.log(peak);
    } finally {
      await stack.stop();
    }
  }
  console.log(
    [
      '',
      header,
      ...rows,
      '',
      ...rss,
      '',
      'per s: calls whose work finished (callback received; report recorded) per second of the phase.',
      'p50/p99: from the 200 to the callback reaching the simulator, or to the report being recorded.',
      "mongo/c, redis own, redis other: commands per call; own = the services' locks and ledger,",
      "other = all the rest (Redis's totals minus own), the commands BullMQ's Lua scripts run inside",
      'Redis included; scripts = the scripts Redis ran (each one round trip), per call.',
      'cpu ms/c: CPU of the ingress / approval worker / deprovision worker per call; db ms/c: of the',
      'local FerretDB / the PostgreSQL backends serving it (n/a for a server not started here).',
    ].join('\n'),
  );
} finally {
  redis.disconnect();
  await sim.stop();
  await redisEndpoint.stop();
  await mongoEndpoint.stop();
}
