// The shared connection repository against the real MongoDB-wire server and Redis: conditional
// transitions, exclusive callback leases, tombstones, and no double winners under concurrency.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MongoClient } from 'mongodb';
import type { ActivateRequest } from '@fortellis-admin/contracts';
import { ConnectionCollection, type ConnectionRepository } from '@fortellis-admin/connection-store';
import { activations, approvedByRules, openRealStore, type RealStore } from './real-store.ts';

let store: RealStore;
let repo: ConnectionRepository;
let mongo: MongoClient;
const activation = activations('2529a384-add3-4b6a-a935-');
const approve = approvedByRules;

beforeAll(async () => {
  store = await openRealStore('repo');
  ({ repo, mongo } = store);
});
afterAll(() => store.close());

const approvedCallback = { call: 'callback', state: 'approved' } as const;
const cleanup = { call: 'step', step: 'cleanup' } as const;

const record = (a: ActivateRequest, decided?: typeof approve) =>
  repo.recordActivation(
    { activation: a, requestId: 'r', receivedAt: new Date() },
    decided === undefined ? undefined : decided(),
  );

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
        repo.acquireCallLease(a.connectionId, approvedCallback, 10_000),
      ),
    );
    const held = leases.flatMap((lease) => (lease.kind === 'acquired' ? [lease.leaseId] : []));
    expect(held).toHaveLength(1);
    await repo.releaseCallLease(a.connectionId, approvedCallback, held[0]!, {
      status: 503,
      error: 'HTTP 503',
    });
    const next = await repo.acquireCallLease(a.connectionId, approvedCallback, 10_000);
    if (next.kind !== 'acquired') throw new Error(`no lease: ${next.why}`);
    expect(
      (
        await repo.completeCallback(a.connectionId, next.leaseId, 'approved', {
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

  it('counts repeated failed attempts into one history entry, only while the lease is held', async () => {
    const a = activation();
    await record(a);
    await repo.recordDeactivation(a.connectionId, { requestId: 'd', receivedAt: new Date() });
    for (let n = 0; n < 12; n += 1) {
      const lease = await repo.acquireCallLease(a.connectionId, cleanup, 10_000);
      if (lease.kind !== 'acquired') throw new Error(`no lease: ${lease.why}`);
      const attempt =
        n === 5 ? { status: 503, error: 'HTTP 503' } : { status: 429, error: 'HTTP 429' };
      await repo.releaseCallLease(a.connectionId, cleanup, lease.leaseId, attempt);
      // A release by a holder whose lease has gone writes nothing.
      await repo.releaseCallLease(a.connectionId, cleanup, lease.leaseId, attempt);
    }
    const stored = await repo.get(a.connectionId);
    expect(
      stored?.history
        .filter((entry) => entry.event === 'cleanup_attempt_failed')
        .map(({ detail, count }) => ({ detail, count })),
    ).toEqual([
      { detail: 'HTTP 429', count: 11 },
      { detail: 'HTTP 503', count: undefined },
    ]);
    expect(stored?.steps?.cleanup).toMatchObject({ attempts: 12, lastStatus: 429 });
  });

  it('a provisioning given up on a broken answer keeps its problems and no body', async () => {
    const a = activation();
    await record(a, approve);
    const lease = await repo.acquireCallLease(a.connectionId, { call: 'provisioning' }, 10_000);
    if (lease.kind !== 'acquired') throw new Error(`no lease: ${lease.why}`);
    const failed = await repo.failProvisioning(a.connectionId, lease.leaseId, {
      httpStatus: 200,
      problems: [{ pointer: '/credentials', message: 'must NOT have more than 20 properties' }],
      note: 'broken',
    });
    expect(failed?.provisioning?.response).toEqual({
      status: 200,
      problems: [{ pointer: '/credentials', message: 'must NOT have more than 20 properties' }],
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

  it('stores an activation already decided, with the callback lease taken in the same insert', async () => {
    const a = activation();
    const created = await record(a, approve);
    expect(created.kind).toBe('created');
    if (created.kind !== 'created') return;
    expect(created.lease?.leaseId).toBeDefined();
    const stored = await repo.get(a.connectionId);
    expect(stored).toMatchObject({
      state: 'approved',
      version: 1,
      callback: { status: 'accepted', attempts: 1, leaseId: created.lease?.leaseId },
    });
    expect(stored?.history.map((entry) => entry.event)).toEqual([
      'activation_received',
      'decided_approve',
    ]);
    // Nobody else gets the lease while it is live; its holder ends the callback in one write.
    expect(await repo.acquireCallLease(a.connectionId, approvedCallback, 10_000)).toMatchObject({
      kind: 'unavailable',
      why: 'busy',
    });
    const done = await repo.completeCallback(
      a.connectionId,
      created.lease!.leaseId,
      'approved',
      { outcome: 'acknowledged', status: 200 },
      { announced: true },
    );
    expect(done).toMatchObject({ state: 'accepted', acceptanceAnnounced: true });
    expect(done?.callback?.leaseId).toBeUndefined();
  });

  it('an activation decided on insert and its deactivation raced: one story, and no callback recorded after the deactivation', async () => {
    for (let round = 0; round < 6; round += 1) {
      const a = activation();
      const [created, deactivated] = await Promise.all([
        record(a, approve),
        repo.recordDeactivation(
          a.connectionId,
          { requestId: 'd', receivedAt: new Date() },
          { cleanupLeaseMs: 10_000 },
        ),
      ]);
      expect(deactivated.changed).toBe(true);
      const stored = await repo.get(a.connectionId);
      expect(stored?.state).toBe('deactivated');
      if (created.kind === 'created') {
        // The activation came first: the deactivation found it approved, not accepted, so it took
        // the general path, and the callback's end is refused.
        expect(deactivated.cleanupLease).toBeUndefined();
        expect(
          await repo.completeCallback(a.connectionId, created.lease!.leaseId, 'approved', {
            outcome: 'acknowledged',
            status: 200,
          }),
        ).toBeNull();
      } else {
        expect(created.kind).toBe('stale');
      }
      expect((await repo.get(a.connectionId))?.state).toBe('deactivated');
    }
  });

  it("deactivates an accepted connection and takes its clean-up lease in one write; the clean-up's end takes the report's lease", async () => {
    const a = activation();
    const created = await record(a, approve);
    if (created.kind !== 'created') throw new Error('expected created');
    await repo.completeCallback(a.connectionId, created.lease!.leaseId, 'approved', {
      outcome: 'acknowledged',
      status: 200,
    });
    const recorded = await repo.recordDeactivation(
      a.connectionId,
      { requestId: 'd', receivedAt: new Date() },
      { cleanupLeaseMs: 10_000 },
    );
    expect(recorded.changed).toBe(true);
    expect(recorded.connection.steps?.cleanup).toMatchObject({
      attempts: 1,
      leaseId: recorded.cleanupLease?.leaseId,
    });
    // Raced by two holders of the same lease (a redelivery), the end is written once.
    const ends = await Promise.all(
      [1, 2].map(() =>
        repo.completeStepThenLease(
          a.connectionId,
          'cleanup',
          recorded.cleanupLease!.leaseId,
          { status: 'done', httpStatus: 200 },
          { step: 'deactivationReport', leaseMs: 10_000 },
        ),
      ),
    );
    expect(ends.filter((end) => end.completed)).toHaveLength(1);
    const nextLease = ends.find((end) => end.completed)?.nextLease;
    expect(nextLease).not.toBeNull();
    const report = { call: 'step', step: 'deactivationReport' } as const;
    expect(await repo.acquireCallLease(a.connectionId, report, 10_000)).toMatchObject({
      kind: 'unavailable',
      why: 'busy',
    });
    expect(
      await repo.completeStep(a.connectionId, 'deactivationReport', nextLease!.leaseId, {
        status: 'done',
        httpStatus: 204,
      }),
    ).toBe(true);
    const stored = await repo.get(a.connectionId);
    expect(stored?.steps).toMatchObject({
      cleanup: { status: 'done', attempts: 1 },
      deactivationReport: { status: 'done', attempts: 1 },
    });
    expect(stored?.history.map((entry) => entry.event)).toEqual([
      'activation_received',
      'decided_approve',
      'callback_accepted_acknowledged',
      'deactivated',
      'cleanup_done',
      'deactivationReport_done',
    ]);
  });
});

describe('writes where conditional updates are atomic (the MongoDB path)', () => {
  it('runs a read-decide-write again on a fresh read when another write came between', async () => {
    const connections = new ConnectionCollection(mongo.db(store.dbName), { kind: 'atomic' });
    const a = activation();
    await record(a);
    let rounds = 0;
    const updated = await connections.withLock(a.connectionId, async () => {
      rounds += 1;
      const current = await connections.get(a.connectionId);
      if (current === null) throw new Error('missing');
      // Another writer moves the document on between this read and this write, once.
      if (rounds === 1)
        await connections.collection.updateOne(
          { _id: current._id },
          { $inc: { version: 1 }, $set: { updatedAt: new Date() } },
        );
      return connections.apply(current, {
        $set: { note: `written in round ${rounds}` },
        $inc: { version: 1 },
      });
    });
    expect(rounds).toBe(2);
    expect(updated).toMatchObject({ version: 3, note: 'written in round 2' });
  });

  it('writes a conditional update only while its condition holds', async () => {
    const connections = new ConnectionCollection(mongo.db(store.dbName), { kind: 'atomic' });
    const a = activation();
    await record(a);
    expect(
      await connections.applyIf(a.connectionId, { state: 'approved' }, { $inc: { version: 1 } }),
    ).toBeNull();
    expect(
      await connections.applyIf(a.connectionId, { state: 'received' }, { $inc: { version: 1 } }),
    ).toMatchObject({ version: 2 });
  });
});
