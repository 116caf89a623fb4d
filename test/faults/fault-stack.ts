// One fault scenario's system: the real services as processes, in a namespace of their own, on the
// file's shared infrastructure (fault-infra.ts): by default two ingress replicas behind a front
// that routes by readiness, and two replicas of each worker, so the leases, the connection locks
// and the reconcilers run under real contention. The levers a fault needs: kill a replica and
// start it again, restart everything as a rolling update does.
import { MongoClient, type Collection } from 'mongodb';
import type { ConnectionDocument } from '@fortellis-admin/connection-store';
import {
  createTestNamespace,
  freePort,
  startService,
  type ManagedProcess,
  type TestNamespace,
} from '@fortellis-admin/test-support';
import type { FaultInfra, RedisKind } from './fault-infra.ts';
import { joining, startFront, type IngressFront, type IngressReplica } from './ingress-front.ts';
import { until } from './paced-run.ts';

export type WorkerName = 'approval-worker' | 'deprovision-worker';
export type ReplicaName = WorkerName | 'ingress';

/** One SIGKILL of a replica: when it was sent and when the process was gone (ms since the epoch). */
export interface Kill {
  service: ReplicaName;
  replica: number;
  at: number;
  exitedAt: number;
}

export interface FaultStack<K extends RedisKind = RedisKind> {
  readonly infra: FaultInfra<K>;
  readonly connections: Collection<ConnectionDocument>;
  /** The scenario's queue prefix and database. */
  readonly namespace: TestNamespace;
  /** The front's URL: what Fortellis calls. */
  readonly ingressUrl: string;
  /** When the stack was up (ms since the epoch): the simulator's records before it are not its. */
  readonly startedAt: number;
  /** A running replica of a service (0-based). */
  replica(name: ReplicaName, index?: number): ManagedProcess;
  /** SIGKILLs one replica and starts it again with the same environment. */
  killAndRestart(name: ReplicaName, index?: number): Promise<void>;
  /** Each SIGKILL of a replica. */
  readonly kills: Kill[];
  /**
   * Restarts every replica the way a Kubernetes rolling update does (one new instance up, then an
   * old one sent SIGTERM and waited for): the ingress replicas, then each worker's.
   */
  rollingRestart(): Promise<void>;
  /** The warnings and errors the replicas logged, counted by service and message. */
  complaints(): Map<string, number>;
  stop(): Promise<void>;
}

export interface FaultStackOptions {
  /** Ingress replicas behind the front. Default 2. */
  ingressReplicas?: number;
  /** Replicas of each worker. Default 2. */
  workerReplicas?: number;
  /** SHUTDOWN_DRAIN_MS of the ingress: how long it stays up, not ready, after SIGTERM. */
  drainMs?: number;
  /** More environment for every service (ACK_REPLICAS, say). */
  env?: Record<string, string>;
}

/** Six processes starting at once on a shared 2-core machine may each take this long. */
const START_TIMEOUT_MS = 60_000;

/** The settings every scenario runs the services with: short timeouts, backoffs and locks. */
function scenarioEnv(options: FaultStackOptions): Record<string, string> {
  return {
    HOST: '127.0.0.1',
    MONITORING_HOST: '127.0.0.1',
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
    ...options.env,
  };
}

export async function startFaultStack<K extends RedisKind>(
  infra: FaultInfra<K>,
  label: string,
  options: FaultStackOptions = {},
): Promise<FaultStack<K>> {
  const ns = createTestNamespace(label);
  const env = { MONGODB_DATABASE: ns.dbName, QUEUE_PREFIX: ns.queuePrefix };
  const ingress: IngressReplica[] = [];
  const port = await freePort();
  const front = startFront(port, ingress);
  const replicas = new ReplicaSet(ingress, front, async (slot) => ({
    ...(await infra.envFor(slot)),
    ...env,
    ...scenarioEnv(options),
  }));
  const mongo = new MongoClient(infra.mongo.url);
  try {
    const workerCount = options.workerReplicas ?? 2;
    await Promise.all([
      ...Array.from({ length: options.ingressReplicas ?? 2 }, () => replicas.startIngress()),
      ...Array.from({ length: workerCount }, (_, i) => replicas.startWorker('approval-worker', i)),
      ...Array.from({ length: workerCount }, (_, i) =>
        replicas.startWorker('deprovision-worker', i),
      ),
    ]);
    await until('every ingress replica is ready', async () => replicas.allReady(), 20_000);
    await mongo.connect();
  } catch (error) {
    await front.stop();
    await replicas.stopAll();
    await mongo.close();
    throw error;
  }
  return {
    infra,
    connections: mongo.db(ns.dbName).collection<ConnectionDocument>('connections'),
    namespace: ns,
    ingressUrl: `http://127.0.0.1:${port}`,
    startedAt: Date.now(),
    replica: (name, index = 0) => replicas.get(name, index),
    kills: replicas.kills,
    killAndRestart: (name, index = 0) => replicas.killAndRestart(name, index),
    rollingRestart: () => replicas.rollingRestart(),
    complaints: () => replicas.complaints,
    stop: async () => {
      await front.stop();
      await replicas.stopAll();
      await mongo.close();
    },
  };
}

/** pino's levels from warn up, by name and by number. */
const COMPLAINT_LEVELS = new Set(['warn', 'error', 'fatal', '40', '50', '60']);

/** The running replicas of a scenario: the ingress's (which the front reads) and each worker's. */
class ReplicaSet {
  readonly ingress: IngressReplica[];
  readonly #front: IngressFront;
  readonly workers = new Map<WorkerName, ManagedProcess[]>([
    ['approval-worker', []],
    ['deprovision-worker', []],
  ]);
  readonly kills: Kill[] = [];
  readonly complaints = new Map<string, number>();
  readonly #envFor: (slot: string) => Promise<Record<string, string>>;
  /** Ingress replicas ever started: each new one takes the next slot (its links, if proxied). */
  #ingressSlots = 0;

  constructor(
    ingress: IngressReplica[],
    front: IngressFront,
    envFor: (slot: string) => Promise<Record<string, string>>,
  ) {
    this.ingress = ingress;
    this.#front = front;
    this.#envFor = envFor;
  }

  async startIngress(at = this.ingress.length): Promise<IngressReplica> {
    const [port, monitoringPort] = [await freePort(), await freePort()];
    const slot = `ingress-${this.#ingressSlots++}`;
    const process = await startService(
      'ingress',
      {
        ...(await this.#envFor(slot)),
        PORT: String(port),
        MONITORING_PORT: String(monitoringPort),
      },
      START_TIMEOUT_MS,
    );
    this.#listen('ingress', process);
    const replica = joining(process, port, monitoringPort);
    this.ingress.splice(at, 0, replica);
    return replica;
  }

  async startWorker(name: WorkerName, index: number): Promise<ManagedProcess> {
    const started = await startService(
      name,
      await this.#envFor(`${name}-${index}`),
      START_TIMEOUT_MS,
    );
    this.#listen(name, started);
    this.#list(name)[index] = started;
    return started;
  }

  allReady(): boolean {
    return this.ingress.length > 0 && this.ingress.every((replica) => replica.ready);
  }

  get(name: ReplicaName, index: number): ManagedProcess {
    const found = name === 'ingress' ? this.ingress[index]?.process : this.#list(name)[index];
    if (found === undefined) throw new Error(`${name} replica ${index} is not running`);
    return found;
  }

  async killAndRestart(name: ReplicaName, index: number): Promise<void> {
    const running = this.get(name, index);
    const at = Date.now();
    if (name === 'ingress') this.#front.retire(this.ingress[index] as IngressReplica);
    running.child.kill('SIGKILL');
    await running.stop();
    this.kills.push({ service: name, replica: index, at, exitedAt: Date.now() });
    if (name !== 'ingress') {
      await this.startWorker(name, index);
      return;
    }
    this.ingress.splice(index, 1);
    await this.startIngress(index);
  }

  async rollingRestart(): Promise<void> {
    for (const old of [...this.ingress]) {
      const fresh = await this.startIngress();
      await until('the new ingress replica is ready', async () => fresh.ready, 20_000);
      this.#front.retire(old);
      await old.process.stop(20_000);
      this.ingress.splice(this.ingress.indexOf(old), 1);
    }
    for (const name of this.workers.keys()) {
      const list = this.#list(name);
      for (let index = 0; index < list.length; index += 1) {
        const old = list[index];
        await this.startWorker(name, index);
        await old?.stop(20_000);
      }
    }
  }

  async stopAll(): Promise<void> {
    await Promise.all([
      ...this.ingress.map((replica) => replica.process.stop()),
      ...[...this.workers.values()].flat().map((process) => process.stop()),
    ]);
  }

  /** Counts each warning and error the replica logs (pino: level 40 and up), by its message. */
  #listen(name: ReplicaName, replica: ManagedProcess): void {
    let partial = '';
    replica.child.stdout?.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString('utf8')).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines) {
        // The services log the level by name ("warn"); pino's default is its number (40).
        const level = /"level":"?(\w+)/.exec(line)?.[1];
        if (level === undefined || !COMPLAINT_LEVELS.has(level)) continue;
        const what = `${name}: ${/"msg":"([^"]*)"/.exec(line)?.[1] ?? line.slice(0, 120)}`;
        this.complaints.set(what, (this.complaints.get(what) ?? 0) + 1);
      }
    });
  }

  #list(name: WorkerName): ManagedProcess[] {
    const list = this.workers.get(name);
    if (list === undefined) throw new Error(`no worker named ${name}`);
    return list;
  }
}
