// What the approval worker makes of partners' answers it cannot trust, with real Redis, the
// MongoDB-wire server and the simulator: a provisioning answer that breaks the contract leaves only
// its problems; Retry-After is clamped to the backoff's range, and repeated failures are counted
// into one history entry; an answer too large to read is a failed attempt; credentials sealed for
// one connection do not open for another.
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { MongoClient } from 'mongodb';
import { HISTORY_LIMIT, type ConnectionDocument } from '@fortellis-admin/connection-store';
import { MAX_ANSWER_BYTES } from '@fortellis-admin/service-kit';
import { ActivationGenerator, startSimulator, type Simulator } from '@fortellis-admin/simulator';
import { createTestNamespace } from '@fortellis-admin/test-support';
import { startApprovalHarness, type ApprovalHarness } from './approval-harness.ts';

let sim: Simulator;
const generator = new ActivationGenerator(2222);
const open: ApprovalHarness[] = [];

beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(async () => {
  await sim.stop();
});
afterEach(async () => {
  for (const harness of open.splice(0)) await harness.close();
  sim.faults.clear();
});

async function harness(
  options: { env?: Record<string, string>; reconcile?: boolean } = {},
): Promise<ApprovalHarness & { dbName: string }> {
  const ns = createTestNamespace('partners');
  const h = await startApprovalHarness({
    sim,
    redisUrl: inject('redisUrl'),
    mongoUrl: inject('mongoUrl'),
    prefix: ns.queuePrefix,
    dbName: ns.dbName,
    ...options,
  });
  open.push(h);
  return Object.assign(h, { dbName: ns.dbName });
}

const callsFor = (endpoint: 'callback' | 'provision', connectionId: string) =>
  sim
    .calls(endpoint)
    .filter(
      (call) =>
        (call.params.connectionId ?? (call.body as { connectionId?: string }).connectionId) ===
        connectionId,
    );

/** The history entries of `event`, each with how many attempts it counts. */
const counted = (connection: ConnectionDocument, event: string) =>
  connection.history
    .filter((entry) => entry.event === event)
    .map((entry) => ({ detail: entry.detail, count: entry.count ?? 1 }));

describe('a provisioning answer that breaks the contract', () => {
  it('a 2xx with 21 credentials: the connection keeps only the problems, nothing of the answer is stored, sent or logged', async () => {
    const h = await harness();
    const activation = generator.next();
    const secrets = Array.from(
      { length: 21 },
      (_, n) => `leaked-secret-${n}-${activation.connectionId}`,
    );
    sim.faults.answerNext('provision', 200, {
      accountId: 'acct-21',
      credentials: Object.fromEntries(secrets.map((secret, n) => [`key${n}`, secret])),
    });
    await h.activate(activation);
    const connection = await h.waitForState(activation.connectionId, 'provisioning_failed');
    expect(connection.provisioning).toMatchObject({
      status: 'failed',
      lastStatus: 200,
      response: {
        status: 200,
        problems: [{ pointer: '/credentials', message: 'must NOT have more than 20 properties' }],
      },
    });
    expect(connection.provisioning?.response).not.toHaveProperty('body');
    expect(connection.provisioning?.credentials).toBeUndefined();
    expect(connection.provisioning?.credentialNames).toBeUndefined();
    expect(callsFor('callback', activation.connectionId)).toEqual([]);
    const job = await h.approvalQueue.getJob(`activation-${activation.connectionId}`);
    await expect.poll(async () => (await job?.isFailed()) ?? false).toBe(true);
    const failed = await h.approvalQueue.getJob(`activation-${activation.connectionId}`);
    const kept = JSON.stringify([connection, h.logs, failed?.failedReason, failed?.returnvalue]);
    for (const secret of secrets) expect(kept).not.toContain(secret);
    expect(kept).not.toContain('leaked-secret');
  });
});

describe('a partner asking to wait', () => {
  it('answering 429 Retry-After: 0 over and over: retried after the backoff’s base, the attempts counted into one history entry', async () => {
    const h = await harness({
      env: { CALLBACK_BACKOFF_BASE_MS: '5', CALLBACK_BACKOFF_MAX_MS: '50' },
    });
    const activation = generator.next();
    const throttled = 100;
    sim.faults.throttleNext('provision', 0, throttled);
    await h.activate(activation);
    const connection = await h.waitForState(activation.connectionId, 'accepted', 60_000);
    const calls = callsFor('provision', activation.connectionId);
    expect(calls).toHaveLength(throttled + 1);
    // Never sooner than the base: each retry waited at least 5 ms after the 429 before it.
    for (let n = 1; n < calls.length; n += 1)
      expect(calls[n]!.at.getTime() - calls[n - 1]!.at.getTime()).toBeGreaterThanOrEqual(4);
    expect(connection.history.length).toBeLessThanOrEqual(HISTORY_LIMIT);
    expect(counted(connection, 'provisioning_attempt_failed')).toEqual([
      { detail: 'HTTP 429', count: throttled },
    ]);
    const entry = connection.history.find((e) => e.event === 'provisioning_attempt_failed');
    expect(entry?.lastAt?.getTime()).toBeGreaterThan(entry?.at.getTime() ?? Infinity);
    expect(connection.provisioning?.attempts).toBe(throttled + 1);
  });

  it('answering 429 Retry-After: 86400: the retry comes within the backoff’s longest delay, and the reconciler and other work go on', async () => {
    const h = await harness({
      reconcile: true,
      env: { RECONCILE_EVERY_MS: '1000', RECONCILE_AFTER_MS: '1000' },
    });
    const [throttled, stalled] = [generator.next(), generator.next()];
    sim.faults.throttleNext('provision', 86_400);
    await h.activate(throttled);
    await expect.poll(() => callsFor('provision', throttled.connectionId).length).toBe(1);
    // A connection whose job was lost: only the reconciler, on the same queue, moves it on.
    await h.repo.recordActivation({
      activation: stalled,
      requestId: 'lost-job',
      receivedAt: new Date(),
    });
    // The queue was paused for the clamped delay (CALLBACK_BACKOFF_MAX_MS: 400), not for a day.
    await h.waitForState(throttled.connectionId, 'accepted');
    const [first, second] = callsFor('provision', throttled.connectionId);
    expect(second!.at.getTime() - first!.at.getTime()).toBeGreaterThanOrEqual(390);
    expect(second!.at.getTime() - first!.at.getTime()).toBeLessThan(400 + 1500);
    await h.waitForState(stalled.connectionId, 'accepted', 15_000);
    expect(h.logs.some((line) => line.includes('"retryAfterMs":86400000'))).toBe(true);
  });
});

describe('an answer too large to read', () => {
  it('a 1 MiB provisioning answer is a failed attempt, retried; a 1 MiB acknowledgement too', async () => {
    const h = await harness();
    const activation = generator.next();
    sim.faults.add('provision', { kind: 'oversized', status: 200, bytes: 1024 * 1024 });
    sim.faults.add('callback', {
      kind: 'oversized',
      status: 200,
      bytes: 1024 * 1024,
      chunked: true,
    });
    await h.activate(activation);
    const connection = await h.waitForState(activation.connectionId, 'accepted');
    expect(callsFor('provision', activation.connectionId)).toHaveLength(2);
    expect(callsFor('callback', activation.connectionId)).toHaveLength(2);
    const tooLarge = `AnswerTooLarge: the HTTP 200 answer's body exceeds ${MAX_ANSWER_BYTES} bytes`;
    expect(counted(connection, 'provisioning_attempt_failed')).toEqual([
      { detail: tooLarge, count: 1 },
    ]);
    expect(counted(connection, 'callback_attempt_failed')).toEqual([
      { detail: tooLarge, count: 1 },
    ]);
  });
});

describe('sealed credentials', () => {
  it('moved to another connection’s document, they do not open: the callback is given up, nothing is sent', async () => {
    const h = await harness();
    const [a, b] = [generator.next(), generator.next()];
    // Fortellis is down: both accounts are provisioned, their credentials wait sealed.
    sim.faults.add('callback', { kind: 'status', status: 503 }, Infinity);
    await h.activate(a);
    await h.activate(b);
    const sealedOf = async (connectionId: string) => {
      await expect
        .poll(async () => (await h.repo.get(connectionId))?.provisioning?.credentials)
        .toBeDefined();
      return (await h.repo.get(connectionId))?.provisioning?.credentials;
    };
    const [sealedA, sealedB] = [await sealedOf(a.connectionId), await sealedOf(b.connectionId)];
    // While the worker is stopped, someone with write access to the database swaps them.
    await Promise.all(h.workers.map((worker) => worker.close()));
    const mongo = new MongoClient(inject('mongoUrl'));
    try {
      const connections = mongo.db(h.dbName).collection<ConnectionDocument>('connections');
      await connections.updateOne(
        { _id: a.connectionId.toLowerCase() },
        { $set: { 'provisioning.credentials': sealedB } },
      );
      await connections.updateOne(
        { _id: b.connectionId.toLowerCase() },
        { $set: { 'provisioning.credentials': sealedA } },
      );
    } finally {
      await mongo.close();
    }
    const mark = sim.count('callback');
    sim.faults.clear('callback');
    h.addWorker();
    for (const { connectionId } of [a, b]) {
      const failed = await h.waitForState(connectionId, 'callback_failed');
      expect(failed.callback?.lastError).toContain('do not open for connection');
      expect(failed.history.at(-1)?.event).toBe('callback_failed');
    }
    // Nothing went out after the swap: Fortellis answers again, but no credentials reached it.
    expect(sim.calls('callback').slice(mark)).toEqual([]);
    await expect
      .poll(async () =>
        (await h.approvalQueue.getJobs(['failed'])).map((job) =>
          job.failedReason.includes('do not open for connection'),
        ),
      )
      .toEqual([true, true]);
  });
});
