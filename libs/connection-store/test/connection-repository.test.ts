// The shared connection repository against the real MongoDB-wire server and Redis: conditional
// transitions, exclusive callback leases, tombstones, and no double winners under concurrency.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { type ActivateRequest } from '@fortellis-admin/contracts';
import { ConnectionLocks, ConnectionRepository } from '@fortellis-admin/connection-store';
import { createTestNamespace } from '@fortellis-admin/test-support';
import { tutorialCurlPayload } from '@fortellis-admin/test-support';

const ns = createTestNamespace('repo');
let mongo: MongoClient;
let redis: Redis;
let repo: ConnectionRepository;
let counter = 0;

beforeAll(async () => {
  mongo = new MongoClient(inject('mongoUrl'));
  await mongo.connect();
  redis = new Redis(inject('redisUrl'));
  repo = new ConnectionRepository(
    mongo.db(ns.dbName),
    new ConnectionLocks(redis, { prefix: ns.queuePrefix }),
  );
  await repo.ensureIndexes();
});
afterAll(async () => {
  await mongo.db(ns.dbName).dropDatabase();
  await mongo.close();
  redis.disconnect();
});

function activation(): ActivateRequest {
  counter += 1;
  const suffix = counter.toString(16).padStart(12, '0');
  const payload: ActivateRequest = structuredClone(tutorialCurlPayload);
  payload.connectionId = `2529a384-add3-4b6a-a935-${suffix}`;
  return payload;
}

const record = (a: ActivateRequest) =>
  repo.recordActivation({ activation: a, requestId: 'r', receivedAt: new Date() });

describe('ConnectionRepository', () => {
  it('stores an activation once; a repeat finds it', async () => {
    const a = activation();
    expect((await record(a)).kind).toBe('created');
    const again = await record(a);
    expect(again.kind).toBe('existing');
    expect(again.connection.history).toHaveLength(1);
  });

  it('keys connections case-insensitively', async () => {
    const a = activation();
    await record(a);
    expect((await record({ ...a, connectionId: a.connectionId.toUpperCase() })).kind).toBe(
      'existing',
    );
    expect((await repo.get(a.connectionId.toUpperCase()))?._id).toBe(a.connectionId.toLowerCase());
  });

  it('lets exactly one of many concurrent transitions win', async () => {
    const a = activation();
    await record(a);
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        repo.transition(a.connectionId, ['received'], 'approved', {
          event: 'decided_approve',
          by: `w${i}`,
        }),
      ),
    );
    expect(results.filter((r) => r !== null)).toHaveLength(1);
    const stored = await repo.get(a.connectionId);
    expect(stored?.history.filter((entry) => entry.event === 'decided_approve')).toHaveLength(1);
    expect(stored?.version).toBe(2);
  });

  it('refuses a transition the state machine does not allow', async () => {
    const a = activation();
    await record(a);
    expect(
      await repo.transition(a.connectionId, ['received'], 'accepted', { event: 'x', by: 'test' }),
    ).toBeNull();
    expect((await repo.get(a.connectionId))?.state).toBe('received');
  });

  it('gives the callback lease to one holder at a time', async () => {
    const a = activation();
    await record(a);
    await repo.transition(a.connectionId, ['received'], 'approved', {
      event: 'decided_approve',
      by: 'test',
    });
    const leases = await Promise.all(
      Array.from({ length: 6 }, () =>
        repo.acquireCallbackLease(a.connectionId, 'approved', 10_000),
      ),
    );
    const held = leases.filter((lease): lease is string => lease !== null);
    expect(held).toHaveLength(1);
    await repo.releaseCallbackLease(a.connectionId, held[0]!, { status: 503, error: 'HTTP 503' });
    const next = await repo.acquireCallbackLease(a.connectionId, 'approved', 10_000);
    expect(next).not.toBeNull();
    expect(
      (
        await repo.completeCallback(a.connectionId, next!, 'approved', {
          outcome: 'acknowledged',
          status: 200,
        })
      )?.state,
    ).toBe('accepted');
    expect((await repo.get(a.connectionId))?.callback).toMatchObject({
      attempts: 2,
      outcome: 'acknowledged',
    });
  });

  it('writes a tombstone for an unknown connection, and a later activation is stale', async () => {
    const a = activation();
    const first = await repo.recordDeactivation(a.connectionId, {
      requestId: 'd',
      receivedAt: new Date(),
    });
    expect(first).toMatchObject({
      changed: true,
      connection: { state: 'deactivated', tombstone: true },
    });
    expect(
      (await repo.recordDeactivation(a.connectionId, { requestId: 'd', receivedAt: new Date() }))
        .changed,
    ).toBe(false);
    const late = await record(a);
    expect(late.kind).toBe('stale');
    expect(
      (await record(a)).connection.history.filter((entry) => entry.event === 'stale_activation'),
    ).toHaveLength(1);
  });

  it('records a deactivation from any live state, once, even when raced', async () => {
    const a = activation();
    await record(a);
    const results = await Promise.all(
      Array.from({ length: 5 }, () =>
        repo.recordDeactivation(a.connectionId, { requestId: 'd', receivedAt: new Date() }),
      ),
    );
    expect(results.filter((r) => r.changed)).toHaveLength(1);
    expect((await repo.get(a.connectionId))?.history.map((entry) => entry.event)).toEqual([
      'activation_received',
      'deactivated',
    ]);
  });
});
