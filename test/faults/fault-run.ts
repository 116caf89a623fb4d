// The fault suite's harness: the three real services as processes against a Redis and a
// MongoDB-wire server the test can stall and kill, and the simulator; a paced run of activations and
// deactivations with a fault injected mid-run; and the verdict read from the simulator's records
// and the database: lost, duplicated, phantom and stuck connections.
import { Agent, createServer, request, type Server } from 'node:http';
import { setTimeout as delay } from 'node:timers/promises';
import { MongoClient, type Collection } from 'mongodb';
import type { ConnectionDocument, ConnectionState } from '@fortellis-admin/connection-store';
import {
  FortellisCaller,
  startSimulator,
  type CallResult,
  type RecordedCall,
  type Simulator,
} from '@fortellis-admin/simulator';
import {
  createTestNamespace,
  freePort,
  startControllableFerretDb,
  startControllableRedis,
  startService,
  type ControllableRedis,
  type ControllableServer,
  type ManagedProcess,
  type ServiceName,
} from '@fortellis-admin/test-support';

/** The processes and parties of one scenario, and the levers a fault needs. */
export interface FaultStack {
  sim: Simulator;
  redis: ControllableRedis;
  /** The MongoDB-wire server (FerretDB on SQLite), private to the scenario. */
  mongo: ControllableServer;
  connections: Collection<ConnectionDocument>;
  ingressUrl: string;
  service(name: ServiceName): ManagedProcess;
  /** SIGKILLs a service and starts it again with the same environment. */
  killAndRestart(name: ServiceName): Promise<void>;
  /** Each SIGKILL of a service, when it was sent (ms since the epoch). */
  readonly kills: { service: ServiceName; at: number; exitedAt: number }[];
  /**
   * Restarts every service the way a Kubernetes rolling update does (one new instance up, then the
   * old one sent SIGTERM and waited for): each ingress replica, then each worker.
   */
  rollingRestart(): Promise<void>;
  stop(): Promise<void>;
}

export interface FaultStackOptions {
  /**
   * Ingress replicas behind a front that, like a Service's endpoints, sends each call to a replica
   * whose /ready answered 200 at its last poll (once a second: endpoints lag behind a pod's
   * readiness). One by default, with no front.
   */
  ingressReplicas?: number;
  /** SHUTDOWN_DRAIN_MS of the ingress: how long it stays up, not ready, after SIGTERM. */
  drainMs?: number;
}

/**
 * A replica of the ingress: its process, its port, its monitoring port (where /ready is), and
 * whether its /ready last said yes.
 */
interface Replica {
  process: ManagedProcess;
  port: number;
  monitoringPort: number;
  ready: boolean;
}

/**
 * What a Service and its endpoints do for the ingress replicas: each call goes to the next replica
 * that is ready; a replica that stops answering /ready 200 gets no new calls.
 */
function startFront(port: number, replicas: Replica[]): { stop(): Promise<void> } {
  const agent = new Agent({ keepAlive: true });
  const poll = setInterval(() => {
    for (const replica of replicas) {
      const check = request(
        { host: '127.0.0.1', port: replica.monitoringPort, path: '/ready', agent, timeout: 500 },
        (answer) => {
          answer.resume();
          replica.ready = answer.statusCode === 200;
        },
      );
      check.once('error', () => (replica.ready = false));
      check.once('timeout', () => check.destroy());
      check.end();
    }
  }, 1000);
  let next = 0;
  const server: Server = createServer((incoming, outgoing) => {
    const ready = replicas.filter((replica) => replica.ready);
    const target = ready[next++ % Math.max(1, ready.length)];
    if (target === undefined) {
      outgoing.writeHead(503).end();
      return;
    }
    const forward = request(
      {
        host: '127.0.0.1',
        port: target.port,
        method: incoming.method,
        path: incoming.url,
        headers: incoming.headers,
        agent,
      },
      (answer) => {
        outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(outgoing);
      },
    );
    forward.once('error', () => {
      if (!outgoing.headersSent) outgoing.writeHead(502).end();
      else outgoing.destroy();
    });
    incoming.pipe(forward);
  });
  server.listen(port, '127.0.0.1');
  return {
    stop: async () => {
      clearInterval(poll);
      await new Promise<void>((resolve) => server.close(() => resolve()));
      agent.destroy();
    },
  };
}

export async function startFaultStack(
  label: string,
  options: FaultStackOptions = {},
): Promise<FaultStack> {
  const sim = await startSimulator();
  const redis = await startControllableRedis();
  const mongoServer = await startControllableFerretDb();
  const mongoUrl = mongoServer.url;
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
    BACKEND_PROVISION_TIMEOUT_MS: '2000',
    CALLBACK_BACKOFF_BASE_MS: '200',
    CALLBACK_BACKOFF_MAX_MS: '2000',
    RETRY_BACKOFF_BASE_MS: '200',
    RETRY_BACKOFF_MAX_MS: '2000',
    WORKER_LOCK_MS: '3000',
    WORKER_CONCURRENCY: '8',
    RECONCILE_EVERY_MS: '2000',
    RECONCILE_AFTER_MS: '5000',
    // startService waits for "<name> started", logged at info.
    LOG_LEVEL: 'info',
    ...(options.drainMs === undefined ? {} : { SHUTDOWN_DRAIN_MS: String(options.drainMs) }),
  };
  const services = new Map<ServiceName, ManagedProcess>();
  const start = async (name: ServiceName): Promise<void> => {
    services.set(name, await startService(name, env));
  };
  // With replicas, the ingress runs behind the front on `port`; without, on `port` itself.
  const replicas: Replica[] = [];
  const startReplica = async (): Promise<Replica> => {
    const [replicaPort, monitoringPort] = [await freePort(), await freePort()];
    const replica: Replica = {
      process: await startService('ingress', {
        ...env,
        PORT: String(replicaPort),
        MONITORING_PORT: String(monitoringPort),
      }),
      port: replicaPort,
      monitoringPort,
      ready: false,
    };
    replicas.push(replica);
    return replica;
  };
  const front = options.ingressReplicas === undefined ? undefined : startFront(port, replicas);
  for (let i = 0; i < (options.ingressReplicas ?? 0); i += 1) await startReplica();
  for (const name of options.ingressReplicas === undefined
    ? (['ingress', 'approval-worker', 'deprovision-worker'] as const)
    : (['approval-worker', 'deprovision-worker'] as const))
    await start(name);
  const mongo = new MongoClient(mongoUrl);
  await mongo.connect();
  const kills: FaultStack['kills'] = [];
  return {
    sim,
    redis,
    mongo: mongoServer,
    connections: mongo.db(ns.dbName).collection<ConnectionDocument>('connections'),
    ingressUrl: `http://127.0.0.1:${port}`,
    service: (name) => {
      const found = services.get(name);
      if (found === undefined) throw new Error(`${name} is not running`);
      return found;
    },
    kills,
    rollingRestart: async () => {
      for (const old of [...replicas]) {
        const fresh = await startReplica();
        await until('the new ingress replica is ready', async () => fresh.ready, 20_000);
        await old.process.stop(20_000);
        replicas.splice(replicas.indexOf(old), 1);
      }
      for (const name of ['approval-worker', 'deprovision-worker'] as const) {
        const old = services.get(name);
        await start(name);
        await old?.stop(20_000);
      }
    },
    killAndRestart: async (name) => {
      const running = services.get(name);
      const at = Date.now();
      running?.child.kill('SIGKILL');
      await running?.stop();
      kills.push({ service: name, at, exitedAt: Date.now() });
      await start(name);
    },
    stop: async () => {
      redis.resume();
      mongoServer.resume();
      await front?.stop();
      for (const replica of replicas) await replica.process.stop();
      for (const running of services.values()) await running.stop();
      await mongo.close();
      await redis.stop();
      await mongoServer.stop();
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
  /** More than one callback, cleanup or report for one call, not explained by a call in doubt. */
  duplicated: string[];
  /**
   * A call repeated because the worker making it was SIGKILLed while it was on the wire (the
   * first copy reached the party at most IN_DOUBT_MS before the kill, or after the signal while
   * the process was still going, so nobody lived to learn its answer), repeated once with the same content after the lease expired. No process can tell
   * whether such a call arrived; the README's Guarantees section says so.
   */
  repeatedInDoubt: string[];
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

/**
 * How long before a worker's SIGKILL a call it made may have arrived and still be in doubt: the
 * answer, then the ledger write that records it, take this long at most on a loaded machine.
 */
const IN_DOUBT_MS = 1000;

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

  const callbacks = groupBy(
    stack.sim.calls('callback').filter((c) => c.status === 200),
    (c) => (c.params.connectionId ?? '').toLowerCase(),
  );
  const cleanups = groupBy(
    stack.sim.calls('deprovision').filter((c) => c.status === 200),
    (c) => ((c.body as { connectionId?: string } | undefined)?.connectionId ?? '').toLowerCase(),
  );
  const accounts = groupBy(stack.sim.backendAccounts(), (account) =>
    account.connectionId.toLowerCase(),
  );
  // A request the worker wrote before the signal can reach the simulator after it was sent, until
  // the process is gone: such a copy was on the wire at the kill as much as one just before it.
  const killedWhileOnTheWire = (worker: ServiceName, call: RecordedCall): boolean =>
    stack.kills.some(
      (kill) =>
        kill.service === worker &&
        call.at.getTime() <= kill.exitedAt &&
        kill.at <= call.at.getTime() + IN_DOUBT_MS,
    );
  /** Where a repeated call's first copy stood against the nearest kill of its worker, to read. */
  const sinceKill = (worker: ServiceName, call: RecordedCall | undefined): string => {
    const kills = stack.kills.filter((kill) => kill.service === worker);
    if (call === undefined || kills.length === 0) return '';
    const nearest = kills.reduce((a, b) =>
      Math.abs(b.at - call.at.getTime()) < Math.abs(a.at - call.at.getTime()) ? b : a,
    );
    return `; first copy ${call.at.getTime() - nearest.at} ms from the nearest kill, which took ${nearest.exitedAt - nearest.at} ms`;
  };
  /** Two copies of one call: in doubt if the first was on the wire when its worker was killed. */
  const repeatInDoubt = (worker: ServiceName, copies: RecordedCall[]): boolean =>
    copies.length === 2 &&
    JSON.stringify(copies[0]?.body) === JSON.stringify(copies[1]?.body) &&
    killedWhileOnTheWire(worker, copies[0] as RecordedCall);
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
    repeatedInDoubt: [],
    phantom: [],
    stuck: [],
  };
  verdict.refused = verdict.calls - verdict.ok - verdict.unanswered;
  for (const call of run.activations) {
    const id = call.connectionId;
    const copies = callbacks.get(id.toLowerCase()) ?? [];
    const sent = copies.length;
    if (call.status === 0) continue;
    if (call.status !== 200) {
      if (documents.has(id.toLowerCase()) || sent > 0) verdict.phantom.push(`activate ${id}`);
      continue;
    }
    if (sent === 0) verdict.lost.push(`activate ${id}`);
    // An accepted buyer must get the credentials of the one account the backend holds for it.
    const owned = accounts.get(id.toLowerCase()) ?? [];
    if (owned.length > 1) verdict.duplicated.push(`activate ${id} (${owned.length} accounts)`);
    const auth = (copies[0]?.body as { status?: string; auth?: unknown } | undefined)?.auth;
    if (
      sent > 0 &&
      (owned.length !== 1 || JSON.stringify(auth) !== JSON.stringify(owned[0]?.credentials))
    )
      verdict.lost.push(`activate ${id} (its callback's auth is not its account's credentials)`);
    if (sent > 1)
      (repeatInDoubt('approval-worker', copies)
        ? verdict.repeatedInDoubt
        : verdict.duplicated
      ).push(`activate ${id} (${sent} callbacks${sinceKill('approval-worker', copies[0])})`);
  }
  let reportsExpected = 0;
  for (const call of run.deactivations) {
    const id = call.connectionId;
    const doc = documents.get(id.toLowerCase());
    const cleanupCopies = cleanups.get(id.toLowerCase()) ?? [];
    const cleaned = cleanupCopies.length;
    if (call.status === 0) continue;
    if (call.status !== 200) {
      if (doc?.state === 'deactivated' || cleaned > 0) verdict.phantom.push(`deactivate ${id}`);
      continue;
    }
    reportsExpected += 1;
    if (cleaned === 0 || doc?.steps?.deactivationReport?.status !== 'done')
      verdict.lost.push(`deactivate ${id}`);
    if (cleaned > 1)
      (repeatInDoubt('deprovision-worker', cleanupCopies)
        ? verdict.repeatedInDoubt
        : verdict.duplicated
      ).push(
        `deactivate ${id} (${cleaned} cleanups${sinceKill('deprovision-worker', cleanupCopies[0])})`,
      );
  }
  // Reports name no connection: only their number can be judged, and the ones in doubt counted.
  const reports = stack.sim.calls('status').filter((c) => c.status === 204);
  const extra = reports.length - reportsExpected;
  const reportsInDoubt = reports.filter((c) => killedWhileOnTheWire('deprovision-worker', c));
  if (extra > 0)
    (extra <= reportsInDoubt.length ? verdict.repeatedInDoubt : verdict.duplicated).push(
      `${extra} status reports too many (${reportsInDoubt.length} in doubt)`,
    );
  for (const doc of documents.values()) {
    const needsWork =
      ['received', 'approved', 'rejected', 'suspending'].includes(doc.state) ||
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
    scenario.padEnd(50),
    String(verdict.calls).padStart(5),
    String(verdict.ok).padStart(5),
    String(verdict.refused).padStart(8),
    String(verdict.lost.length).padStart(5),
    String(verdict.duplicated.length).padStart(10),
    String(verdict.repeatedInDoubt.length).padStart(8),
    String(verdict.phantom.length).padStart(7),
    String(verdict.stuck.length).padStart(5),
  ].join(' ');
}

export const VERDICT_HEADER = [
  'scenario'.padEnd(50),
  'calls'.padStart(5),
  '200s'.padStart(5),
  'non-200s'.padStart(8),
  'lost'.padStart(5),
  'duplicated'.padStart(10),
  'in doubt'.padStart(8),
  'phantom'.padStart(7),
  'stuck'.padStart(5),
].join(' ');

function groupBy<T>(items: readonly T[], key: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(key(item), [...(groups.get(key(item)) ?? []), item]);
  return groups;
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
