// A write whose answer is lost: the repository reaches the MongoDB-wire server through a real
// proxy (Toxiproxy) that resets the connection on the server's answer, so the write lands and the
// worker learns nothing, as in a failover or a dropped link. What the worker does next, a retry of
// the same conditional write, must find the write done and change nothing.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { ConnectionRepository } from '@fortellis-admin/connection-store';
import {
  createTestNamespace,
  startToxiproxy,
  type FaultProxy,
  type Toxiproxy,
} from '@fortellis-admin/test-support';
import { activations, approvedByRules } from './real-store.ts';

const ns = createTestNamespace('lostanswer');
const activation = activations('7e3a0000-0000-4000-8000-');
let toxiproxy: Toxiproxy;
let link: FaultProxy;
let direct: MongoClient;
let proxied: MongoClient;
let redis: Redis;
let viaLink: ConnectionRepository;
let repo: ConnectionRepository;

beforeAll(async () => {
  toxiproxy = await startToxiproxy();
  link = await toxiproxy.proxy('mongo', new URL(inject('mongoUrl')).host);
  direct = new MongoClient(inject('mongoUrl'));
  // One pooled connection, so the write below goes out on a connection already open.
  proxied = new MongoClient(`mongodb://${link.listen}/`, {
    maxPoolSize: 1,
    serverSelectionTimeoutMS: 5000,
  });
  await Promise.all([direct.connect(), proxied.connect()]);
  redis = new Redis(inject('redisUrl'));
  repo = ConnectionRepository.locked(direct.db(ns.dbName), redis, ns.queuePrefix);
  viaLink = ConnectionRepository.locked(proxied.db(ns.dbName), redis, ns.queuePrefix);
}, 60_000);
afterAll(async () => {
  await direct.db(ns.dbName).dropDatabase();
  await Promise.all([direct.close(), proxied.close()]);
  redis.disconnect();
  await toxiproxy.stop();
});

describe('a write whose answer is lost', () => {
  it("lands once: the callback's end is recorded, and the retry of that write changes nothing", async () => {
    const a = activation();
    const created = await repo.recordActivation(
      { activation: a, requestId: 'r', receivedAt: new Date() },
      approvedByRules(),
    );
    if (created.kind !== 'created' || created.lease === undefined) throw new Error('not created');
    const { leaseId } = created.lease;
    expect(await viaLink.get(a.connectionId)).not.toBeNull();
    await link.resetPeer();
    const end = { outcome: 'acknowledged' as const, status: 200 };
    await expect(
      viaLink.completeCallback(a.connectionId, leaseId, 'approved', end),
    ).rejects.toThrow();
    await link.clear();
    // The write landed although its answer never came back.
    const landed = await repo.get(a.connectionId);
    expect(landed?.state).toBe('accepted');
    // The worker's retry of the same end, conditional on the lease, finds it no longer held.
    expect(await viaLink.completeCallback(a.connectionId, leaseId, 'approved', end)).toBeNull();
    const after = await repo.get(a.connectionId);
    expect(after?.version).toBe(landed?.version);
    expect(
      after?.history.filter((entry) => entry.event === landed?.history.at(-1)?.event),
    ).toHaveLength(1);
  });
});
