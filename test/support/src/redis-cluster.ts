// A Redis Cluster for tests, as MemoryDB and cluster-mode managed services run Redis: redis-server
// nodes in cluster mode joined by `redis-cli --cluster create`, each a ControllableServer, so a
// test can kill a primary and watch its replica take its slots. All on 127.0.0.1.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { startControllableRedis, type ControllableRedis } from './controllable-servers.ts';
import { findBinary, INSTALL_COMMAND } from './infrastructure.ts';
import { freePort } from './processes.ts';
import { ask, askInfo, roleOf, until } from './redis-admin.ts';

export interface RedisClusterOptions {
  /** Default 3. */
  readonly primaries?: number;
  /** Default 1. */
  readonly replicasPerPrimary?: number;
  /** cluster-node-timeout: how long a silent primary keeps its slots. Default 1000. */
  readonly nodeTimeoutMs?: number;
  /** False: no AOF (see redisServerArgs). Default true. */
  readonly durable?: boolean;
}

export interface RedisCluster {
  readonly nodes: readonly ControllableRedis[];
  /** `127.0.0.1:p1,127.0.0.1:p2,...`: every node, as the services are given them. */
  readonly seeds: string;
  env(): { REDIS_CLUSTER_NODES: string };
  /** The node serving `slot`, as the first running node that answers sees it. */
  primaryOfSlot(slot: number): Promise<ControllableRedis>;
  primaryOfKey(key: string): Promise<ControllableRedis>;
  /** Waits until every running node names a new primary for `fromPort`'s slots, and is settled. */
  waitForPromotion(fromPort: number, timeoutMs?: number): Promise<ControllableRedis>;
  /** Waits until every running node says `cluster_state:ok`, replicas are linked, views agree. */
  waitForClusterOk(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/** Starts redis-server nodes in cluster mode and joins them with `redis-cli --cluster create`. */
export async function startRedisCluster(options: RedisClusterOptions = {}): Promise<RedisCluster> {
  const cli = findBinary('redis-cli');
  if (cli === undefined) throw new Error(`redis-cli is not installed: run \`${INSTALL_COMMAND}\``);
  const perPrimary = options.replicasPerPrimary ?? 1;
  const count = (options.primaries ?? 3) * (1 + perPrimary);
  const nodes: ControllableRedis[] = [];
  try {
    for (let i = 0; i < count; i += 1) {
      // The bus port is chosen too: port + 10000 may be taken, or past 65535.
      const busPort = await freePort();
      const args = (): string[] => clusterArgs(busPort, options.nodeTimeoutMs ?? 1000);
      nodes.push(
        await startControllableRedis({
          args,
          name: 'redis-cluster',
          ...(options.durable !== undefined && { durable: options.durable }),
        }),
      );
    }
    const seeds = nodes.map((n) => `127.0.0.1:${n.port}`);
    await promisify(execFile)(
      cli,
      ['--cluster', 'create', ...seeds, '--cluster-replicas', String(perPrimary), '--cluster-yes'],
      { timeout: 60_000 },
    );
    const cluster = redisCluster(nodes, seeds.join(','));
    await cluster.waitForClusterOk(30_000);
    return cluster;
  } catch (error) {
    await Promise.all(nodes.map((node) => node.stop()));
    throw error;
  }
}

function clusterArgs(busPort: number, nodeTimeoutMs: number): string[] {
  return [
    ...['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf'],
    ...['--cluster-port', String(busPort), '--cluster-node-timeout', String(nodeTimeoutMs)],
    // Nodes hand out 127.0.0.1 in MOVED and CLUSTER SLOTS; a full sync starts at once.
    ...['--cluster-announce-ip', '127.0.0.1', '--repl-diskless-sync-delay', '0'],
  ];
}

function redisCluster(nodes: readonly ControllableRedis[], seeds: string): RedisCluster {
  const running = (): ControllableRedis[] => nodes.filter((n) => n.state() === 'running');
  const nodeAt = (port: number): ControllableRedis => {
    const node = nodes.find((n) => n.port === port);
    if (node === undefined) throw new Error(`the cluster names 127.0.0.1:${port}, not a node here`);
    return node;
  };
  /** Each running node's view of who serves `slot` (undefined where a node does not answer). */
  const ownersOf = (slot: number): Promise<Array<number | undefined>> =>
    Promise.all(running().map(async (n) => ownerOf(await slotRangesOf(n.port), slot)));
  const primaryOfSlot = async (slot: number): Promise<ControllableRedis> => {
    const port = (await ownersOf(slot)).find((p) => p !== undefined);
    if (port === undefined) throw new Error(`no running node knows who serves slot ${slot}`);
    return nodeAt(port);
  };
  const waitForClusterOk = (timeoutMs = 30_000): Promise<void> =>
    until('settled cluster with cluster_state:ok', timeoutMs, () => settled(running())).then(
      () => undefined,
    );
  return {
    nodes,
    seeds,
    env: () => ({ REDIS_CLUSTER_NODES: seeds }),
    primaryOfSlot,
    primaryOfKey: async (key) => {
      const node = running()[0];
      if (node === undefined) throw new Error('no cluster node runs');
      return primaryOfSlot(Number(await ask(node.port, 'CLUSTER', ['KEYSLOT', key])));
    },
    waitForPromotion: async (fromPort, timeoutMs = 30_000) => {
      const slot = await slotServedBy(running(), fromPort);
      const node = await until(`new primary for slot ${slot}`, timeoutMs, async () => {
        const owners = await ownersOf(slot);
        const port = owners[0];
        if (port === undefined || port === fromPort || owners.some((p) => p !== port)) return;
        return (await roleOf(port)) === 'master' ? nodeAt(port) : undefined;
      });
      await waitForClusterOk(timeoutMs);
      return node;
    },
    waitForClusterOk,
    stop: async () => {
      await Promise.all(nodes.map((node) => node.stop()));
    },
  };
}

/**
 * True when every node says `cluster_state:ok`, every replica's link is up, all see the same
 * primaries, and a node that calls itself primary serves slots (a restarted old primary says
 * "master" until it hears it was replaced).
 */
async function settled(nodes: readonly ControllableRedis[]): Promise<true | undefined> {
  const views = new Set<string>();
  const masters: number[] = [];
  for (const node of nodes) {
    const cluster = await askInfo(node.port, 'CLUSTER', 'INFO');
    const replication = await askInfo(node.port, 'INFO', 'replication');
    if (cluster.get('cluster_state') !== 'ok') return undefined;
    const role = replication.get('role');
    if (role === 'slave' && replication.get('master_link_status') !== 'up') return undefined;
    if (role === 'master') masters.push(node.port);
    const owners = new Set((await slotRangesOf(node.port)).map((range) => range.port));
    views.add([...owners].sort((a, b) => a - b).join(','));
  }
  const [view] = views;
  if (views.size !== 1 || view === undefined) return undefined;
  const owners = view.split(',').map(Number);
  return masters.every((port) => owners.includes(port)) || undefined;
}

interface SlotRange {
  readonly start: number;
  readonly end: number;
  /** The port of the primary serving the range. */
  readonly port: number;
}

/** CLUSTER SLOTS of the node at `port` (empty when it does not answer). */
async function slotRangesOf(port: number): Promise<SlotRange[]> {
  const reply = await ask(port, 'CLUSTER', ['SLOTS']).catch(() => []);
  if (!Array.isArray(reply)) return [];
  return reply.flatMap((range: unknown) => {
    if (!Array.isArray(range) || !Array.isArray(range[2])) return [];
    return [{ start: Number(range[0]), end: Number(range[1]), port: Number(range[2][1]) }];
  });
}

function ownerOf(ranges: readonly SlotRange[], slot: number): number | undefined {
  return ranges.find((range) => range.start <= slot && slot <= range.end)?.port;
}

/** A slot `port` serves, in the view of the first running node that still names one. */
async function slotServedBy(nodes: readonly ControllableRedis[], port: number): Promise<number> {
  for (const node of nodes) {
    const range = (await slotRangesOf(node.port)).find((r) => r.port === port);
    if (range !== undefined) return range.start;
  }
  throw new Error(`no running node says 127.0.0.1:${port} serves a slot`);
}
