// The fault suite's harness: the three real services as processes against a Redis the test can
// stall and kill, the MongoDB-wire server and the simulator; a paced run of activations and
// deactivations with a fault injected mid-run; and the verdict read from the simulator's records
// and the database: lost, duplicated, phantom and stuck connections.
import { setTimeout as delay } from 'node:timers/promises';
import { MongoClient, type Collection } from 'mongodb';
import type { ConnectionDocument, ConnectionState } from '@fortellis-admin/connection-store';
import {
  FortellisCaller,
  startSimulator,
  type CallResult,
  type Simulator,
} from '@fortellis-admin/simulator';
import {
  createTestNamespace,
  freePort,
  startControllableRedis,
  startService,
  type ControllableRedis,
  type ManagedProcess,
  type ServiceName,
} from '@fortellis-admin/test-support';

/** The processes and parties of one scenario, and the levers a fault needs. */
export interface FaultStack {
  sim: Simulator;
  redis: ControllableRedis;
  connections: Collection<ConnectionDocument>;
  ingressUrl: string;
  service(name: ServiceName): ManagedProcess;
  /** SIGKILLs a service and starts it again with the same environment. */
  killAndRestart(name: ServiceName): Promise<void>;
  stop(): Promise<void>;
}

export async function startFaultStack(label: string, mongoUrl: string): Promise<FaultStack> {
  const sim = await startSimulator();
  const redis = await startControllableRedis();
  const ns = createTestNamespace(label);
  const port = await freePort();
  const env: Record<string, string> = {
    ...sim.env(),
    REDIS_URL: redis.url,
    MONGODB_URL: mongoUrl,
    MONGODB_DATABASE: ns.dbName,
    QUEUE_PREFIX: ns.queuePrefix,
    HOST: '127.0.0.1',
    MONITORING_HOST: '127.0.0.1',
    PORT: String(port),
    APPROVAL_DEFAULT_ACTION: 'approve',
    CALLBACK_RATE_LIMIT_PER_SECOND: '1000',
    CALLBACK_TIMEOUT_MS: '2000',
    CALLBACK_BACKOFF_BASE_MS: '200',
    CALLBACK_BACKOFF_MAX_MS: '2000',
    RETRY_BACKOFF_BASE_MS: '200',
    RETRY_BACKOFF_MAX_MS: '2000',
    WORKER_LOCK_MS: '3000',
    WORKER_CONCURRENCY: '8',
    // startService waits for "<name> started", logged at info.
    LOG_LEVEL: 'info',
  };
  const services = new Map<ServiceName, ManagedProcess>();
  const start = async (name: ServiceName): Promise<void> => {
    services.set(name, await startService(name, env));
  };
  for (const name of ['ingress', 'approval-worker', 'deprovision-worker'] as const)
    await start(name);
  const mongo = new MongoClient(mongoUrl);
  await mongo.connect();
  return {
    sim,
    redis,
    connections: mongo.db(ns.dbName).collection<ConnectionDocument>('connections'),
    ingressUrl: `http://127.0.0.1:${port}`,
    service: (name) => {
      const found = services.get(name);
      if (found === undefined) throw new Error(`${name} is not running`);
      return found;
    },
    killAndRestart: async (name) => {
      const running = services.get(name);
      running?.child.kill('SIGKILL');
      await running?.stop();
      await start(name);
    },
    stop: async () => {
      redis.resume();
      for (const running of services.values()) await running.stop();
      await mongo.close();
      await redis.stop();
      await sim.stop();
    },
  };
}

export interface ScenarioRun {
  activations: CallResult[];
  deactivations: CallResult[];
}

/**
 * Warms up by activating `deactivate` connections (no fault), then sends `activate` new
 * activations and deactivates the warm-up connections, both paced at `rate` calls per second, and
 * injects the fault `faultAfterMs` into that run. Resolves when every call has been answered.
 */
export async function pacedRun(
  stack: FaultStack,
  options: {
    seed: number;
    activate: number;
    deactivate: number;
    rate: number;
    faultAfterMs: number;
    fault: () => Promise<void>;
  },
): Promise<ScenarioRun> {
  const caller = new FortellisCaller({
    adminApiUrl: stack.ingressUrl,
    token: () => stack.sim.identity.mint(stack.sim.providerClient.clientId),
    seed: options.seed,
    // Fortellis documents no timeout: give the ingress time to learn what a stalled Redis did.
    timeoutMs: 60_000,
  });
  try {
    const warmUp = await caller.activateMany({ count: options.deactivate, concurrency: 8 });
    const warmIds = warmUp.filter((r) => r.status === 200).map((r) => r.connectionId);
    await until(
      'the warm-up connections are accepted',
      async () =>
        (await stack.connections.countDocuments({
          _id: { $in: warmIds.map((id) => id.toLowerCase()) },
          state: 'accepted',
        })) === warmIds.length,
      60_000,
    );
    const activations = caller.activateMany({ count: options.activate, rate: options.rate });
    const deactivations = caller.deactivateMany(warmIds, { rate: options.rate });
    const fault = delay(options.faultAfterMs).then(options.fault);
    const [a, d] = await Promise.all([activations, deactivations, fault]);
    return { activations: a, deactivations: d };
  } finally {
    await caller.close();
  }
}

export interface Verdict {
  calls: number;
  ok: number;
  refused: number;
  /** No answer at all (the caller's own timeout): neither a promise nor a refusal. */
  unanswered: number;
  /** Answered 200, yet no callback (activation) or no cleanup or report (deactivation). */
  lost: string[];
  /** More than one callback, cleanup or report for one call. */
  duplicated: string[];
  /** Answered non-200, yet with an effect. */
  phantom: string[];
  /** Left in a state that needs work nobody will do. */
  stuck: string[];
}

const SETTLED: ConnectionState[] = [
  'accepted',
  'rejection_sent',
  'callback_failed',
  'pending_review',
];

/** Waits (up to `timeoutMs`) for the system to settle, then judges every call of the run. */
export async function judge(
  stack: FaultStack,
  run: ScenarioRun,
  timeoutMs = 90_000,
): Promise<Verdict> {
  const activated = run.activations.filter((r) => r.status === 200).map((r) => r.connectionId);
  const deactivated = run.deactivations.filter((r) => r.status === 200).map((r) => r.connectionId);
  const keys = (ids: string[]) => ids.map((id) => id.toLowerCase());
  const settled = async (): Promise<boolean> => {
    const [a, d] = await Promise.all([
      stack.connections.countDocuments({
        _id: { $in: keys(activated.filter((id) => !deactivated.includes(id))) },
        state: { $in: SETTLED },
      }),
      stack.connections.countDocuments({
        _id: { $in: keys(deactivated) },
        state: 'deactivated',
        'steps.cleanup.status': { $exists: true },
        'steps.deactivationReport.status': { $exists: true },
      }),
    ]);
    return a === activated.length && d === deactivated.length;
  };
  await until('the system settles', settled, timeoutMs).catch(() => undefined);
  // Late effects of refused calls (a stalled write applied after the answer) land after settling.
  await delay(2000);

  const callbacks = countBy(
    stack.sim.calls('callback').filter((c) => c.status === 200),
    (c) => (c.params.connectionId ?? '').toLowerCase(),
  );
  const cleanups = countBy(
    stack.sim.calls('deprovision').filter((c) => c.status === 200),
    (c) => ((c.body as { connectionId?: string } | undefined)?.connectionId ?? '').toLowerCase(),
  );
  const documents = new Map(
    (await stack.connections.find({}).toArray()).map((doc) => [doc._id, doc] as const),
  );
  const verdict: Verdict = {
    calls: run.activations.length + run.deactivations.length,
    ok: activated.length + deactivated.length,
    refused: 0,
    unanswered: [...run.activations, ...run.deactivations].filter((r) => r.status === 0).length,
    lost: [],
    duplicated: [],
    phantom: [],
    stuck: [],
  };
  verdict.refused = verdict.calls - verdict.ok - verdict.unanswered;
  for (const call of run.activations) {
    const id = call.connectionId;
    const sent = callbacks.get(id.toLowerCase()) ?? 0;
    if (call.status === 0) continue;
    if (call.status !== 200) {
      if (documents.has(id.toLowerCase()) || sent > 0) verdict.phantom.push(`activate ${id}`);
      continue;
    }
    if (sent === 0) verdict.lost.push(`activate ${id}`);
    if (sent > 1) verdict.duplicated.push(`activate ${id} (${sent} callbacks)`);
  }
  let reportsExpected = 0;
  for (const call of run.deactivations) {
    const id = call.connectionId;
    const doc = documents.get(id.toLowerCase());
    const cleaned = cleanups.get(id.toLowerCase()) ?? 0;
    if (call.status === 0) continue;
    if (call.status !== 200) {
      if (doc?.state === 'deactivated' || cleaned > 0) verdict.phantom.push(`deactivate ${id}`);
      continue;
    }
    reportsExpected += 1;
    if (cleaned === 0 || doc?.steps?.deactivationReport?.status !== 'done')
      verdict.lost.push(`deactivate ${id}`);
    if (cleaned > 1) verdict.duplicated.push(`deactivate ${id} (${cleaned} cleanups)`);
  }
  const reports = stack.sim.calls('status').filter((c) => c.status === 204).length;
  if (reports > reportsExpected)
    verdict.duplicated.push(`${reports - reportsExpected} status reports too many`);
  for (const doc of documents.values()) {
    const needsWork =
      ['received', 'approved', 'rejected'].includes(doc.state) ||
      (doc.state === 'deactivated' &&
        (doc.steps?.cleanup?.status === undefined ||
          doc.steps.deactivationReport?.status === undefined));
    if (needsWork) verdict.stuck.push(`${doc.connectionId} (${doc.state})`);
  }
  return verdict;
}

/** One row of the suite's table. */
export function verdictRow(scenario: string, verdict: Verdict): string {
  return [
    scenario.padEnd(46),
    String(verdict.calls).padStart(5),
    String(verdict.ok).padStart(5),
    String(verdict.refused).padStart(8),
    String(verdict.lost.length).padStart(5),
    String(verdict.duplicated.length).padStart(10),
    String(verdict.phantom.length).padStart(7),
    String(verdict.stuck.length).padStart(5),
  ].join(' ');
}

export const VERDICT_HEADER = [
  'scenario'.padEnd(46),
  'calls'.padStart(5),
  '200s'.padStart(5),
  'non-200s'.padStart(8),
  'lost'.padStart(5),
  'duplicated'.padStart(10),
  'phantom'.padStart(7),
  'stuck'.padStart(5),
].join(' ');

function countBy<T>(items: readonly T[], key: (item: T) => string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) counts.set(key(item), (counts.get(key(item)) ?? 0) + 1);
  return counts;
}

export async function until(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await delay(500);
  }
}
