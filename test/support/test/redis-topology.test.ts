// The highly available Redis launchers really replicate and really fail over: Sentinel promotes a
// replica when the primary is killed or stalled, and the cluster promotes a killed primary's replica.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, Redis } from 'ioredis';
// Straight from the module (not index.ts), so the test loads none of the services' libraries.
import type { ControllableRedis } from '../src/controllable-servers.ts';
import {
  ask,
  parseInfo,
  startRedisCluster,
  startReplicatedRedis,
  type RedisCluster,
  type ReplicatedRedis,
} from '../src/redis-topology.ts';

const clients: Redis[] = [];
function client(url: string): Redis {
  const redis = new Redis(url, { maxRetriesPerRequest: 0, retryStrategy: () => null });
  redis.on('error', () => {});
  clients.push(redis);
  return redis;
}
afterAll(() => {
  for (const redis of clients) redis.disconnect();
});

async function replicationOf(node: ControllableRedis): Promise<Map<string, string>> {
  return parseInfo(String(await ask(node.port, 'INFO', ['replication'])));
}

describe('a primary with replicas behind Sentinels', () => {
  let topology: ReplicatedRedis;
  beforeAll(async () => {
    topology = await startReplicatedRedis({
      replicas: 2,
      sentinels: 3,
      downAfterMs: 1000,
      dataNodeConfig: ['min-replicas-max-lag 5'],
    });
  }, 60_000);
  afterAll(async () => topology?.stop());

  it('replicates the primary to read-only replicas, and names it through Sentinel', async () => {
    const [primary, ...replicas] = topology.nodes;
    expect(await topology.currentPrimary()).toBe(primary);
    // Sentinel hands out loopback IPs (announce settings), never a hostname or another interface.
    const sentinel = topology.sentinels[0]!.port;
    expect(await ask(sentinel, 'SENTINEL', ['get-master-addr-by-name', 'mymaster'])).toEqual([
      '127.0.0.1',
      String(primary!.port),
    ]);
    expect(topology.env()).toEqual({
      REDIS_SENTINELS: topology.sentinels.map((s) => `127.0.0.1:${s.port}`).join(','),
      REDIS_SENTINEL_MASTER: 'mymaster',
    });
    await client(await topology.primaryUrl()).set('replicated', 'yes');
    await topology.waitForReplicasInSync(10_000);
    for (const node of topology.nodes)
      expect(await ask(node.port, 'CONFIG', ['GET', 'min-replicas-max-lag'])).toEqual([
        'min-replicas-max-lag',
        '5',
      ]);
    for (const replica of replicas) {
      expect(await client(replica.url).get('replicated')).toBe('yes');
      await expect(client(replica.url).set('replicated', 'no')).rejects.toThrow(/READONLY/);
    }
    // The services' own way in: ioredis asks the Sentinels for the primary.
    const viaSentinel = new Redis({
      sentinels: topology.sentinelAddresses.split(',').map((address) => ({
        host: '127.0.0.1',
        port: Number(address.split(':')[1]),
      })),
      name: topology.masterName,
      maxRetriesPerRequest: 0,
      lazyConnect: true,
    });
    viaSentinel.on('error', () => {});
    try {
      expect(await viaSentinel.get('replicated')).toBe('yes');
    } finally {
      viaSentinel.disconnect();
    }
  });

  it('promotes a replica when the primary is killed, and Sentinel reports it', async () => {
    const old = await topology.currentPrimary();
    await client(old.url).set('before-kill', '1');
    await topology.waitForReplicasInSync(10_000);
    const started = Date.now();
    await old.kill();
    expect(old.state()).toBe('down');
    const promoted = await topology.waitForFailover(old.port, 20_000);
    console.log(`Sentinel failover after kill -9: ${Date.now() - started} ms`);
    expect(promoted).not.toBe(old);
    expect(await topology.currentPrimary()).toBe(promoted);
    expect((await replicationOf(promoted)).get('role')).toBe('master');
    expect(await client(promoted.url).get('before-kill')).toBe('1');
    await client(promoted.url).set('after-kill', '1');
  }, 40_000);

  it('promotes a replica when the primary stalls past down-after; resumed, it rejoins as a replica', async () => {
    const stalled = await topology.currentPrimary();
    const stale = client(stalled.url);
    await stale.ping();
    await topology.waitForReplicasInSync(10_000);
    const started = Date.now();
    stalled.pause();
    expect(stalled.state()).toBe('paused');
    const promoted = await topology.waitForFailover(stalled.port, 20_000);
    console.log(`Sentinel failover after SIGSTOP: ${Date.now() - started} ms`);
    stalled.resume();
    // Sentinel turns a returning primary into a replica about 8 s after it answers again.
    await topology.waitForReplicasInSync(30_000);
    console.log(`old primary in sync as a replica: ${Date.now() - started} ms`);
    const info = await replicationOf(stalled);
    expect(info.get('role')).toBe('slave');
    expect(Number(info.get('master_port'))).toBe(promoted.port);
    // Sentinel's reconfiguration closes the demoted primary's clients, and a write on a new
    // connection is refused: nothing more can be acknowledged there.
    expect(stale.status).toBe('end');
    await expect(client(stalled.url).set('after-stall', 'x')).rejects.toThrow(/READONLY/);
    expect(await client(promoted.url).get('after-kill')).toBe('1');
  }, 60_000);
});

describe('a Redis Cluster of three primaries, each with a replica', () => {
  let cluster: RedisCluster;
  beforeAll(async () => {
    cluster = await startRedisCluster({ primaries: 3, replicasPerPrimary: 1 });
  }, 60_000);
  afterAll(async () => cluster?.stop());

  it('reaches cluster_state:ok with every slot served and each primary replicated', async () => {
    expect(cluster.nodes).toHaveLength(6);
    expect(cluster.env()).toEqual({ REDIS_CLUSTER_NODES: cluster.seeds });
    const roles = await Promise.all(
      cluster.nodes.map(async (n) => (await replicationOf(n)).get('role')),
    );
    expect(roles.filter((role) => role === 'master')).toHaveLength(3);
    for (const node of cluster.nodes) {
      const info = parseInfo(String(await ask(node.port, 'CLUSTER', ['INFO'])));
      expect(info.get('cluster_state')).toBe('ok');
      expect(info.get('cluster_slots_assigned')).toBe('16384');
    }
    // The services' own way in: an ioredis Cluster seeded with REDIS_CLUSTER_NODES.
    const seeded = new Cluster(
      cluster
        .env()
        .REDIS_CLUSTER_NODES.split(',')
        .map((seed) => ({
          host: '127.0.0.1',
          port: Number(seed.split(':')[1]),
        })),
      { lazyConnect: true },
    );
    seeded.on('error', () => {});
    try {
      await seeded.mset('{seeded}:a', '1', '{seeded}:b', '2');
      expect(await seeded.mget('{seeded}:a', '{seeded}:b')).toEqual(['1', '2']);
      await expect(seeded.mset('x-slot-1', '1', 'x-slot-2', '2')).rejects.toThrow(/CROSSSLOT/);
    } finally {
      seeded.disconnect();
    }
  });

  it('puts a key on its slot primary, and promotes the replica when that primary is killed', async () => {
    const key = '{tenant-a}:job';
    const owner = await cluster.primaryOfKey(key);
    await expect(cluster.primaryOfKey('{tenant-a}:other')).resolves.toBe(owner);
    await client(owner.url).set(key, 'stored');
    expect(await client(owner.url).call('WAIT', 1, 5000)).toBe(1);
    const other = cluster.nodes.find((n) => n !== owner && n.state() === 'running')!;
    await expect(client(other.url).get(key)).rejects.toThrow(/MOVED|READONLY/);
    const started = Date.now();
    await owner.kill();
    const promoted = await cluster.waitForPromotion(owner.port, 30_000);
    console.log(`cluster failover after kill -9: ${Date.now() - started} ms`);
    expect(promoted).not.toBe(owner);
    expect(await cluster.primaryOfKey(key)).toBe(promoted);
    expect(await client(promoted.url).get(key)).toBe('stored');
    // Restarted on its data, the old primary comes back as the replica of the promoted one.
    await owner.restart();
    await cluster.waitForClusterOk(30_000);
    const info = await replicationOf(owner);
    expect(info.get('role')).toBe('slave');
    expect(Number(info.get('master_port'))).toBe(promoted.port);
  }, 60_000);
});
