// What the scenarios of one fault file share: the simulator, a Redis (one server, a primary with a
// replica behind Sentinels, or a cluster), and a MongoDB-wire server (FerretDB on SQLite), each
// private to the file. Starting them once per file instead of once per scenario is most of the
// set-up a scenario would pay; each scenario still gets a namespace of its own (queue prefix,
// database) and its own service processes, and `heal` puts back whatever its fault left behind.
// With `proxies`, every service replica reaches Redis, MongoDB and the outside parties through
// Toxiproxy (service-links.ts), for the network faults.
import type { Simulator } from '@fortellis-admin/simulator';
import { startSimulator } from '@fortellis-admin/simulator';
import {
  startControllableFerretDb,
  startControllableRedis,
  startRedisCluster,
  startReplicatedRedis,
  startToxiproxy,
  type ControllableRedis,
  type ControllableServer,
  type RedisCluster,
  type ReplicatedRedis,
} from '@fortellis-admin/test-support';
import { ServiceLinks } from './service-links.ts';

/** The Redis of a fault file, by how it is run. */
export interface RedisKinds {
  single: ControllableRedis;
  sentinel: ReplicatedRedis;
  cluster: RedisCluster;
}

export type RedisKind = keyof RedisKinds;

export interface FaultInfra<K extends RedisKind = RedisKind> {
  readonly kind: K;
  readonly sim: Simulator;
  readonly redis: RedisKinds[K];
  /** The MongoDB-wire server (FerretDB on SQLite). */
  readonly mongo: ControllableServer;
  /** The links through Toxiproxy, when the file runs the services through it. */
  readonly links: ServiceLinks | undefined;
  /**
   * How one replica (`approval-worker-0`, say) reaches Redis (REDIS_URL, or the Sentinels, or the
   * cluster's nodes), MongoDB and the outside parties: straight, or through its proxies.
   */
  envFor(slot: string): Promise<Record<string, string>>;
  /**
   * Puts back what a scenario's fault may have left: every server running (a paused one resumed,
   * a killed one restarted; a failed-over primary back as a replica, in sync), no simulator fault
   * scripted. Runs after every scenario, passed or failed.
   */
  heal(): Promise<void>;
  stop(): Promise<void>;
}

export interface FaultInfraOptions {
  /** Every service replica's links through Toxiproxy (one Redis server only). Default false. */
  proxies?: boolean;
}

export async function startFaultInfra<K extends RedisKind>(
  kind: K,
  options: FaultInfraOptions = {},
): Promise<FaultInfra<K>> {
  const sim = await startSimulator();
  const stops: Array<() => Promise<void>> = [() => sim.stop()];
  try {
    const [mongo, redis] = await Promise.all([
      startControllableFerretDb(),
      startRedis(kind) as Promise<RedisKinds[K]>,
    ]);
    stops.push(
      () => mongo.stop(),
      () => redis.stop(),
    );
    let links: ServiceLinks | undefined;
    if (options.proxies === true) {
      if (kind !== 'single') throw new Error('proxies run with one Redis server only');
      const proxied = new ServiceLinks(await startToxiproxy(), sim, {
        redis: (redis as ControllableRedis).url,
        mongo: mongo.url,
      });
      stops.push(() => proxied.stop());
      links = proxied;
    }
    const direct = async () => ({
      ...sim.env(),
      ...(await redisEnv(kind, redis)),
      MONGODB_URL: mongo.url,
    });
    return {
      kind,
      sim,
      redis,
      mongo,
      links,
      envFor: (slot) => links?.envFor(slot) ?? direct(),
      heal: async () => {
        sim.faults.clear();
        await links?.reset();
        await revive(mongo);
        await healRedis(kind, redis);
      },
      stop: async () => {
        for (const stop of stops.reverse()) await stop();
      },
    };
  } catch (error) {
    for (const stop of stops.reverse()) await stop();
    throw error;
  }
}

function startRedis(kind: RedisKind): Promise<RedisKinds[RedisKind]> {
  switch (kind) {
    case 'single':
      return startControllableRedis();
    case 'sentinel':
      // Fast failure detection, as a managed service's: a silent primary is replaced within ~3 s.
      // Two replicas, so that once one is promoted a replica is left to hold each job before the
      // ingress acknowledges it (ACK_REPLICAS=1): with one, nothing could be acknowledged until
      // the old primary came back as a replica.
      return startReplicatedRedis({ replicas: 2, sentinels: 3, downAfterMs: 1000 });
    case 'cluster':
      return startRedisCluster({ primaries: 3, replicasPerPrimary: 1, nodeTimeoutMs: 1000 });
  }
}

async function redisEnv(
  kind: RedisKind,
  redis: RedisKinds[RedisKind],
): Promise<Record<string, string>> {
  switch (kind) {
    case 'single':
      return { REDIS_URL: (redis as ControllableRedis).url };
    case 'sentinel':
      return { ...(redis as ReplicatedRedis).env() };
    case 'cluster':
      return { ...(redis as RedisCluster).env() };
  }
}

/** Resumes a paused server, restarts a killed one. */
export async function revive(server: ControllableServer): Promise<void> {
  switch (server.state()) {
    case 'paused':
      server.resume();
      return;
    case 'down':
      await server.restart();
      return;
    case 'running':
      return;
  }
}

async function healRedis(kind: RedisKind, redis: RedisKinds[RedisKind]): Promise<void> {
  switch (kind) {
    case 'single':
      return revive(redis as ControllableRedis);
    case 'sentinel': {
      const replicated = redis as ReplicatedRedis;
      for (const server of [...replicated.nodes, ...replicated.sentinels]) await revive(server);
      // A demoted primary comes back as a replica of the new one (Sentinel rewrote its config):
      // the next scenario starts with every replica caught up.
      await replicated.waitForReplicasInSync(30_000);
      return;
    }
    case 'cluster': {
      const cluster = redis as RedisCluster;
      for (const node of cluster.nodes) await revive(node);
      await cluster.waitForClusterOk(30_000);
      return;
    }
  }
}
