// What the deprovision worker makes of partners' answers it cannot trust, with real Redis, the
// MongoDB-wire server and the simulator: the backend's body is never kept; Retry-After is clamped
// to the backoff's range and repeated failures are counted into one history entry; an answer too
// large to read is a failed attempt.
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { HISTORY_LIMIT, type ConnectionDocument } from '@fortellis-admin/connection-store';
import { MAX_ANSWER_BYTES } from '@fortellis-admin/service-kit';
import { ActivationGenerator, startSimulator, type Simulator } from '@fortellis-admin/simulator';
import { createTestNamespace } from '@fortellis-admin/test-support';
import { startDeprovisionHarness, type DeprovisionHarness } from './deprovision-harness.ts';

let sim: Simulator;
const generator = new ActivationGenerator(4444);
const open: DeprovisionHarness[] = [];

beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(async () => {
  await sim.stop();
});
afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
  sim.faults.clear();
});

async function harness(env: Record<string, string> = {}): Promise<DeprovisionHarness> {
  const ns = createTestNamespace('deprovision-partners');
  const h = await startDeprovisionHarness({
    sim,
    redisUrl: inject('redisUrl'),
    mongoUrl: inject('mongoUrl'),
    prefix: ns.queuePrefix,
    dbName: ns.dbName,
    env,
  });
  open.push(h);
  return h;
}

const backendCalls = (id: string) =>
  sim
    .calls('deprovision')
    .filter((call) => (call.body as { connectionId?: string }).connectionId === id);

/** The history entries of `event`, each with how many attempts it counts. */
const counted = (connection: ConnectionDocument, event: string) =>
  connection.history
    .filter((entry) => entry.event === event)
    .map((entry) => ({ detail: entry.detail, count: entry.count ?? 1 }));

const steps = ['cleanup', 'deactivationReport'];

describe('the backend’s answers', () => {
  it('a refused clean-up keeps its status, never its body: it may hold the account’s credentials', async () => {
    const h = await harness();
    const activation = generator.next();
    await h.seedAccepted(activation);
    sim.faults.answerNext('deprovision', 409, { apiSecret: 'leaked-secret-409' });
    await h.deactivate(activation.connectionId);
    const connection = await h.waitForSteps(activation.connectionId, steps);
    expect(connection.steps?.cleanup).toMatchObject({
      status: 'failed',
      lastStatus: 409,
      response: { status: 409 },
    });
    expect(connection.steps?.cleanup?.response).not.toHaveProperty('body');
    expect(JSON.stringify([connection, h.logs])).not.toContain('leaked-secret');
  });

  it('a 1 MiB clean-up answer is a failed attempt, retried', async () => {
    const h = await harness();
    const activation = generator.next();
    await h.seedAccepted(activation);
    sim.faults.add('deprovision', {
      kind: 'oversized',
      status: 200,
      bytes: 1024 * 1024,
      chunked: true,
    });
    await h.deactivate(activation.connectionId);
    const connection = await h.waitForSteps(activation.connectionId, steps);
    expect(connection.steps?.cleanup).toMatchObject({ status: 'done', attempts: 2 });
    expect(backendCalls(activation.connectionId)).toHaveLength(2);
    expect(counted(connection, 'cleanup_attempt_failed')).toEqual([
      {
        detail: `AnswerTooLarge: the HTTP 200 answer's body exceeds ${MAX_ANSWER_BYTES} bytes`,
        count: 1,
      },
    ]);
  });
});

describe('the status API asking to wait', () => {
  it('answering 429 Retry-After: 0 over and over: the attempts are counted into one history entry', async () => {
    const h = await harness({ RETRY_BACKOFF_BASE_MS: '5', RETRY_BACKOFF_MAX_MS: '50' });
    const activation = generator.next();
    await h.seedAccepted(activation);
    const throttled = 80;
    sim.faults.throttleNext('status', 0, throttled);
    await h.deactivate(activation.connectionId);
    const connection = await h.waitForSteps(activation.connectionId, steps, 60_000);
    expect(connection.steps?.deactivationReport).toMatchObject({
      status: 'done',
      attempts: throttled + 1,
    });
    expect(connection.history.length).toBeLessThanOrEqual(HISTORY_LIMIT);
    expect(counted(connection, 'deactivationReport_attempt_failed')).toEqual([
      { detail: 'HTTP 429', count: throttled },
    ]);
  });

  it('answering 429 Retry-After: 86400: retried within the longest delay, and another connection’s clean-up goes on', async () => {
    const h = await harness();
    const [throttled, other] = [generator.next(), generator.next()];
    await h.seedAccepted(throttled);
    await h.seedAccepted(other);
    sim.faults.throttleNext('status', 86_400);
    const mark = sim.count('status');
    await h.deactivate(throttled.connectionId);
    await expect.poll(() => sim.count('status') - mark).toBeGreaterThanOrEqual(1);
    // The other deactivation goes in once the worker has paused the queue for the 429: sent
    // before, its status call could go out ahead of the pause and be the "second" call below.
    await expect.poll(() => h.queue.getRateLimitTtl()).toBeGreaterThan(0);
    await h.deactivate(other.connectionId);
    await h.waitForSteps(throttled.connectionId, steps);
    await h.waitForSteps(other.connectionId, steps);
    const [first, second] = sim.calls('status').slice(mark);
    // RETRY_BACKOFF_MAX_MS is 400 in the harness: the pause lasted that, not a day.
    expect(second!.at.getTime() - first!.at.getTime()).toBeGreaterThanOrEqual(390);
    expect(second!.at.getTime() - first!.at.getTime()).toBeLessThan(400 + 1500);
    expect(backendCalls(other.connectionId)).toHaveLength(1);
  });
});
