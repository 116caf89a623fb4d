// A Cluster connection reconnected while the cluster is down (cluster_state:fail, as between a
// primary's death and its replica's promotion) is connected again once the cluster is back, and the
// connect() its owner awaits settles: BullMQ awaits it when it resets its blocking connection, and a
// worker whose reset fell in that window took no job until restarted (issue 24). The connection is a
// duplicate of the worker connection, as BullMQ's blocking connection is.
import { once } from 'node:events';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { Cluster } from 'ioredis';
import { createLogger, createRedisConnection } from '@fortellis-admin/service-kit';
import {
  askInfo,
  createTestNamespace,
  startRedisCluster,
  type RedisCluster,
} from '@fortellis-admin/test-support';
import { settingsFromEnv, waitFor } from './redis-system.ts';

let cluster: RedisCluster;
let worker: Cluster;
beforeAll(async () => {
  // No replicas: a killed primary leaves the cluster down until it is back.
  cluster = await startRedisCluster({ primaries: 3, replicasPerPrimary: 0, durable: false });
  const settings = settingsFromEnv({
    ...cluster.env(),
    QUEUE_PREFIX: createTestNamespace('reconnect').queuePrefix,
  });
  worker = createRedisConnection(settings, 'worker', createLogger('test', 'silent')) as Cluster;
  await worker.connect();
}, 60_000);
afterAll(async () => {
  worker?.disconnect();
  await cluster?.stop();
});

async function untilClusterState(port: number, state: string): Promise<void> {
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; await delay(100)) {
    const info = await askInfo(port, 'CLUSTER', 'INFO').catch(() => new Map<string, string>());
    if (info.get('cluster_state') === state) return;
  }
  throw new Error(`node ${port} never said cluster_state:${state}`);
}

it('a duplicate reconnected while the cluster is down: its connect() settles once it is back', async () => {
  const blocking = worker.duplicate();
  await blocking.connect();
  const [victim, witness] = cluster.nodes;
  await victim!.kill();
  await untilClusterState(witness!.port, 'fail');
  // What BullMQ's watchdog does to its blocking connection: disconnect, wait for the end, connect.
  const ended = once(blocking, 'end');
  blocking.disconnect();
  await ended;
  // The ready check fails (cluster_state:fail): the cluster drops this attempt and tries again.
  const statuses: string[] = [];
  for (const status of ['connect', 'close']) blocking.on(status, () => statuses.push(status));
  let settled: 'pending' | 'resolved' | 'rejected' = 'pending';
  blocking.connect().then(
    () => (settled = 'resolved'),
    () => (settled = 'rejected'),
  );
  await waitFor('a ready check failed', 10_000, () => statuses.join(',').includes('connect,close'));
  await victim!.restart();
  await cluster.waitForClusterOk(30_000);
  await waitFor('the duplicate ready again', 15_000, () => blocking.status === 'ready');
  await waitFor('its connect() settled', 2000, () => settled !== 'pending');
  expect(settled).toBe('resolved');
  // And it blocks and answers, as BullMQ's fetch needs.
  expect(await blocking.bzpopmin('{reconnect}:marker', 0.1)).toBeNull();
  blocking.disconnect();
}, 90_000);
