// Highly available Redis for tests, as providers run it: a primary with replicas behind Sentinels
// (redis-server --sentinel). Every node is a ControllableServer (SIGSTOP, kill -9, restart on the
// same port and data), so a test can fail it over and watch the system follow. All on 127.0.0.1.
import { startControllableRedis, type ControllableRedis } from './controllable-servers.ts';
import { ask, askInfo, roleOf, until } from './redis-admin.ts';

export { ask, askInfo, parseInfo } from './redis-admin.ts';
export * from './redis-cluster.ts';

export interface ReplicatedRedisOptions {
  /** Replicas of the primary. Default 1. */
  readonly replicas?: number;
  /** Sentinels watching it; the quorum is their majority. Default 3. */
  readonly sentinels?: number;
  /** Default `mymaster`. */
  readonly masterName?: string;
  /** Sentinel's down-after-milliseconds: how long a silent primary stays primary. Default 1000. */
  readonly downAfterMs?: number;
  /** Sentinel's failover-timeout (a failed election is retried after twice this). Default 3000. */
  readonly failoverTimeoutMs?: number;
  /** False: no AOF on the data nodes (see redisServerArgs). Default true. */
  readonly durable?: boolean;
  /** More redis.conf lines for every data node, e.g. `min-replicas-to-write 1`. */
  readonly dataNodeConfig?: readonly string[];
}

export interface ReplicatedRedis {
  readonly masterName: string;
  /** `127.0.0.1:p1,127.0.0.1:p2,...`: the Sentinels, as the services are given them. */
  readonly sentinelAddresses: string;
  /** The data nodes: `nodes[0]` started as the primary, the others as its replicas. */
  readonly nodes: readonly ControllableRedis[];
  readonly sentinels: readonly ControllableRedis[];
  /** The node the Sentinels name as primary (the first one that answers). */
  currentPrimary(): Promise<ControllableRedis>;
  primaryUrl(): Promise<string>;
  /** Waits until every answering Sentinel names a primary other than `fromPort`, and it says so. */
  waitForFailover(fromPort: number, timeoutMs?: number): Promise<ControllableRedis>;
  /** Waits until every running data node but the primary replicates it at its offset. */
  waitForReplicasInSync(timeoutMs?: number): Promise<void>;
  /** The services' configuration for it (REDIS_URL stays unset). */
  env(): { REDIS_SENTINELS: string; REDIS_SENTINEL_MASTER: string };
  stop(): Promise<void>;
}

/** Starts a primary, its replicas (`replicaof`) and Sentinels (`redis-server --sentinel`). */
export async function startReplicatedRedis(
  options: ReplicatedRedisOptions = {},
): Promise<ReplicatedRedis> {
  const masterName = options.masterName ?? 'mymaster';
  const started: ControllableRedis[] = [];
  const track = async (server: Promise<ControllableRedis>): Promise<ControllableRedis> => {
    started.push(await server);
    return started[started.length - 1]!;
  };
  try {
    const dataNode = (replicaOf?: number): Promise<ControllableRedis> =>
      track(
        startControllableRedis({
          config: () => dataNodeConfig(replicaOf, options.dataNodeConfig ?? []),
          ...(options.durable !== undefined && { durable: options.durable }),
        }),
      );
    const primary = await dataNode();
    const replicas = await Promise.all(
      Array.from({ length: options.replicas ?? 1 }, () => dataNode(primary.port)),
    );
    const nodes = [primary, ...replicas];
    await waitForReplication(primary, replicas, 20_000);
    const count = options.sentinels ?? 3;
    const config = sentinelConfig(masterName, primary.port, count, options);
    const sentinels = await Promise.all(
      Array.from({ length: count }, () =>
        track(startControllableRedis({ sentinel: true, config })),
      ),
    );
    await waitForSentinelsReady(sentinels, masterName, replicas.length, 20_000);
    return replicatedRedis(masterName, nodes, sentinels);
  } catch (error) {
    await Promise.all(started.map((server) => server.stop()));
    throw error;
  }
}

function dataNodeConfig(replicaOf: number | undefined, extra: readonly string[]): string {
  return [
    ...(replicaOf === undefined ? [] : [`replicaof 127.0.0.1 ${replicaOf}`]),
    'replica-announce-ip 127.0.0.1',
    // A full sync starts at once instead of waiting 5 s for more replicas to ask for one.
    'repl-diskless-sync-delay 0',
    ...extra,
    '',
  ].join('\n');
}

function sentinelConfig(
  masterName: string,
  primaryPort: number,
  count: number,
  options: ReplicatedRedisOptions,
): () => string {
  const quorum = Math.floor(count / 2) + 1;
  return () =>
    [
      // Sentinel hands out the addresses it sees: keep them loopback IPs, never hostnames.
      'sentinel resolve-hostnames no',
      'sentinel announce-hostnames no',
      'sentinel announce-ip 127.0.0.1',
      `sentinel monitor ${masterName} 127.0.0.1 ${primaryPort} ${quorum}`,
      `sentinel down-after-milliseconds ${masterName} ${options.downAfterMs ?? 1000}`,
      `sentinel failover-timeout ${masterName} ${options.failoverTimeoutMs ?? 3000}`,
      `sentinel parallel-syncs ${masterName} 1`,
      '',
    ].join('\n');
}

function replicatedRedis(
  masterName: string,
  nodes: readonly ControllableRedis[],
  sentinels: readonly ControllableRedis[],
): ReplicatedRedis {
  const sentinelAddresses = sentinels.map((s) => `127.0.0.1:${s.port}`).join(',');
  const primaryPorts = async (): Promise<number[]> => {
    const answers = await Promise.all(
      sentinels
        .filter((s) => s.state() === 'running')
        .map((s) =>
          ask(s.port, 'SENTINEL', ['get-master-addr-by-name', masterName]).catch(() => null),
        ),
    );
    return answers.flatMap((address) => (Array.isArray(address) ? [Number(address[1])] : []));
  };
  const nodeAt = (port: number): ControllableRedis => {
    const node = nodes.find((n) => n.port === port);
    if (node === undefined) throw new Error(`Sentinel names 127.0.0.1:${port}, not a node here`);
    return node;
  };
  const currentPrimary = async (): Promise<ControllableRedis> => {
    const [port] = await primaryPorts();
    if (port === undefined) throw new Error(`no Sentinel of ${sentinelAddresses} answers`);
    return nodeAt(port);
  };
  return {
    masterName,
    sentinelAddresses,
    nodes,
    sentinels,
    currentPrimary,
    primaryUrl: async () => (await currentPrimary()).url,
    waitForFailover: (fromPort, timeoutMs = 30_000) =>
      until(`a primary other than ${fromPort}`, timeoutMs, async () => {
        const ports = await primaryPorts();
        const port = ports[0];
        if (port === undefined || port === fromPort || ports.some((p) => p !== port)) return;
        return (await roleOf(port)) === 'master' ? nodeAt(port) : undefined;
      }),
    waitForReplicasInSync: async (timeoutMs = 20_000) => {
      const primary = await currentPrimary();
      const replicas = nodes.filter((n) => n !== primary && n.state() === 'running');
      await waitForReplication(primary, replicas, timeoutMs);
    },
    env: () => ({ REDIS_SENTINELS: sentinelAddresses, REDIS_SENTINEL_MASTER: masterName }),
    stop: async () => {
      await Promise.all([...sentinels, ...nodes].map((server) => server.stop()));
    },
  };
}

/** Waits until each replica is online at the primary's replication offset. */
async function waitForReplication(
  primary: ControllableRedis,
  replicas: readonly ControllableRedis[],
  timeoutMs: number,
): Promise<void> {
  const wanted = replicas.map((r) => r.port).join(',');
  await until(`replicas ${wanted} in sync with ${primary.port}`, timeoutMs, async () => {
    const info = await askInfo(primary.port, 'INFO', 'replication');
    if (info.get('role') !== 'master') return;
    const offset = info.get('master_repl_offset');
    const inSync = new Set(
      [...info.entries()]
        .filter(([key]) => /^slave\d+$/.test(key))
        .map(
          ([, value]) =>
            new Map(value.split(',').map((pair) => pair.split('=') as [string, string])),
        )
        .filter((slave) => slave.get('state') === 'online' && slave.get('offset') === offset)
        .map((slave) => Number(slave.get('port'))),
    );
    return replicas.every((r) => inSync.has(r.port)) || undefined;
  });
}

async function waitForSentinelsReady(
  sentinels: readonly ControllableRedis[],
  masterName: string,
  replicas: number,
  timeoutMs: number,
): Promise<void> {
  // A failover needs Sentinels that know the replicas and have found each other (hello messages).
  await until('Sentinels that know each other and the replicas', timeoutMs, async () => {
    for (const sentinel of sentinels) {
      const known = await ask(sentinel.port, 'SENTINEL', ['sentinels', masterName]);
      const slaves = await ask(sentinel.port, 'SENTINEL', ['replicas', masterName]);
      if (!Array.isArray(known) || known.length !== sentinels.length - 1) return;
      if (!Array.isArray(slaves) || slaves.length !== replicas) return;
    }
    return true;
  });
}
