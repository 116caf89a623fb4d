// Component tests of the approval worker with real Redis, the MongoDB-wire server and the simulator.
import { afterEach, beforeAll, afterAll, describe, expect, inject, it } from 'vitest';
import { ActivationGenerator, startSimulator, type Simulator } from '@fortellis-admin/simulator';
import { createTestNamespace } from '@fortellis-admin/test-support';
import { compilePolicy } from '@fortellis-admin/approval-rules';
import { startApprovalHarness, type ApprovalHarness } from './approval-harness.ts';

let sim: Simulator;
const generator = new ActivationGenerator(555);
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
  options: { policy?: Parameters<typeof compilePolicy>[0]; env?: Record<string, string> } = {},
): Promise<ApprovalHarness> {
  const ns = createTestNamespace('approval');
  const h = await startApprovalHarness({
    sim,
    redisUrl: inject('redisUrl'),
    mongoUrl: inject('mongoUrl'),
    prefix: ns.queuePrefix,
    dbName: ns.dbName,
    ...(options.policy === undefined
      ? {}
      : { policy: compilePolicy(options.policy, 'approve', 'test') }),
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  open.push(h);
  return h;
}

const callbacksFor = (connectionId: string) =>
  sim.calls('callback').filter((call) => call.params.connectionId === connectionId);

describe('deciding and calling back', () => {
  it('auto-approve ends accepted with one recorded callback, and announces the acceptance', async () => {
    const h = await harness();
    const activation = generator.next();
    await h.activate(activation);
    const connection = await h.waitForState(activation.connectionId, 'accepted');
    const calls = callbacksFor(activation.connectionId);
    expect(calls).toHaveLength(1);
    // The account the backend created for it, whose credentials the callback carried.
    const account = sim.backendAccounts().find((a) => a.connectionId === activation.connectionId);
    expect(account?.requests).toBe(1);
    expect(calls[0]).toMatchObject({
      body: { status: 'accepted', auth: account?.credentials },
      status: 200,
      headers: { 'content-type': 'application/json', 'request-id': connection.requestId },
    });
    expect(connection).toMatchObject({
      decision: { action: 'approve', ruleId: 'default', decidedBy: 'rules' },
      callback: { status: 'accepted', attempts: 1, outcome: 'acknowledged', lastStatus: 200 },
      subscriptionId: activation.subscriptionId,
    });
    expect(connection.history.map((entry) => entry.event)).toEqual([
      'activation_received',
      'decided_approve',
      'provisioned',
      'callback_accepted_acknowledged',
    ]);
    expect(connection.provisioning).toMatchObject({
      status: 'done',
      accountId: account?.accountId,
      credentialNames: ['apiKey', 'apiSecret'],
    });
    expect(connection.provisioning?.credentials).toBeUndefined();
    // The credentials reached Fortellis and nothing else: not the logs, not the job in Redis.
    const secrets = Object.values(account?.credentials ?? {});
    expect(secrets.length).toBe(2);
    const job = await h.approvalQueue.getJob(`activation-${activation.connectionId}`);
    const kept = JSON.stringify([h.logs, job?.data, job?.returnvalue, job?.failedReason]);
    for (const secret of secrets) expect(kept).not.toContain(secret);
    await expect
      .poll(async () =>
        (await h.deprovisionQueue.getJobs(['waiting'])).map((job) => [job.name, job.id]),
      )
      .toEqual([['ConnectionAccepted', `accepted-${activation.connectionId}`]]);
  });

  it('a reject rule sends rejected with the reason', async () => {
    const h = await harness({
      policy: {
        rules: [
          {
            id: 'no-parts',
            when: {
              'apiInfo.id': {
                oneOf: ['v1-appointments', 'v2-repair-orders', 'v1-parts-inventory'],
              },
            },
            action: 'reject',
            reason: 'Not available in your region.',
          },
        ],
      },
    });
    const activation = generator.next();
    await h.activate(activation);
    const connection = await h.waitForState(activation.connectionId, 'rejection_sent');
    expect(callbacksFor(activation.connectionId).map((call) => call.body)).toEqual([
      { status: 'rejected', error: 'Not available in your region.' },
    ]);
    expect(connection.decision).toMatchObject({
      action: 'reject',
      ruleId: 'no-parts',
      reason: 'Not available in your region.',
    });
  });

  it('review waits with no callback, then a decision job completes it through the same callback path', async () => {
    const h = await harness({ policy: { defaultAction: 'review', rules: [] } });
    const [held, refused] = [generator.next(), generator.next()];
    await h.activate(held);
    await h.activate(refused);
    await h.waitForState(held.connectionId, 'pending_review');
    await h.waitForState(refused.connectionId, 'pending_review');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(callbacksFor(held.connectionId)).toHaveLength(0);

    await h.decideReview({
      connectionId: held.connectionId,
      action: 'approve',
      actor: 'ops:alice',
    });
    await h.decideReview({
      connectionId: refused.connectionId,
      action: 'reject',
      actor: 'ops:bob',
      reason: 'Unknown dealer.',
    });
    const accepted = await h.waitForState(held.connectionId, 'accepted');
    await h.waitForState(refused.connectionId, 'rejection_sent');
    expect(accepted.decision).toMatchObject({
      action: 'approve',
      ruleId: 'operator',
      decidedBy: 'ops:alice',
    });
    const account = sim.backendAccounts().find((a) => a.connectionId === held.connectionId);
    expect(callbacksFor(held.connectionId).map((call) => call.body)).toEqual([
      { status: 'accepted', auth: account?.credentials },
    ]);
    // A rejection provisions nothing.
    expect(sim.backendAccounts().filter((a) => a.connectionId === refused.connectionId)).toEqual(
      [],
    );
    expect(callbacksFor(refused.connectionId).map((call) => call.body)).toEqual([
      { status: 'rejected', error: 'Unknown dealer.' },
    ]);
  });

  it('a buyer who comes back gets a new connection linked to the earlier one', async () => {
    const h = await harness();
    const first = generator.next();
    const again = { ...generator.next(), subscriptionId: first.subscriptionId };
    await h.activate(first);
    await h.waitForState(first.connectionId, 'accepted');
    await h.repo.recordDeactivation(first.connectionId, {
      requestId: 'd-1',
      receivedAt: new Date(),
    });
    await h.activate(again);
    const connection = await h.waitForState(again.connectionId, 'accepted');
    expect(connection.previousConnectionIds).toEqual([first.connectionId]);
  });
});

describe('suspending an accepted connection', () => {
  it('sends rejected with the operator’s reason, retried like any callback, and ends suspended with the whole story in its history', async () => {
    const h = await harness();
    const activation = generator.next();
    await h.activate(activation);
    await h.waitForState(activation.connectionId, 'accepted');
    sim.faults.failNext('callback', 503, 1);
    await h.suspend(activation.connectionId, 'Unpaid invoices', 'ops:alice');
    const connection = await h.waitForState(activation.connectionId, 'suspended');
    expect(
      callbacksFor(activation.connectionId).map((call) => [
        (call.body as { status: string }).status,
        call.status,
      ]),
    ).toEqual([
      ['accepted', 200],
      ['rejected', 503],
      ['rejected', 200],
    ]);
    expect(callbacksFor(activation.connectionId).at(-1)?.body).toEqual({
      status: 'rejected',
      error: 'Unpaid invoices',
    });
    expect(connection).toMatchObject({
      suspension: { reason: 'Unpaid invoices', by: 'ops:alice' },
      callback: { status: 'rejected', attempts: 2, outcome: 'acknowledged' },
    });
    expect(connection.acceptedAt).toBeInstanceOf(Date);
    expect(connection.history.map((entry) => entry.event).slice(-4)).toEqual([
      'callback_accepted_acknowledged',
      'suspension_requested',
      'callback_attempt_failed',
      'suspension_acknowledged',
    ]);
    // A repeated job sends nothing more.
    await h.approvalQueue.add('SuspensionRequested', {
      connectionId: activation.connectionId,
      reason: 'Unpaid invoices',
      actor: 'ops:alice',
      requestedAt: new Date().toISOString(),
      requestId: 'again',
    });
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(callbacksFor(activation.connectionId)).toHaveLength(3);
  });
});

describe('callback failures and retries', () => {
  it('503 three times then 200 ends accepted after exactly four calls', async () => {
    const h = await harness();
    const activation = generator.next();
    sim.faults.failNext('callback', 503, 3);
    await h.activate(activation);
    const connection = await h.waitForState(activation.connectionId, 'accepted');
    expect(callbacksFor(activation.connectionId).map((call) => call.status)).toEqual([
      503, 503, 503, 200,
    ]);
    expect(connection.callback).toMatchObject({ attempts: 4, outcome: 'acknowledged' });
  });

  it('429 with Retry-After: 2 waits at least 2 s', async () => {
    // Within the backoff's range: a partner's Retry-After is clamped to it.
    const h = await harness({ env: { CALLBACK_BACKOFF_MAX_MS: '5000' } });
    const activation = generator.next();
    sim.faults.throttleNext('callback', 2);
    await h.activate(activation);
    await h.waitForState(activation.connectionId, 'accepted');
    const [first, second] = callbacksFor(activation.connectionId);
    expect([first?.status, second?.status]).toEqual([429, 200]);
    expect(second!.at.getTime() - first!.at.getTime()).toBeGreaterThanOrEqual(2000);
  });

  it('a 429 pauses the whole queue for its Retry-After: another connection waits too, and no attempt is counted', async () => {
    const h = await harness({ env: { CALLBACK_BACKOFF_MAX_MS: '5000' } });
    const [a, b] = [generator.next(), generator.next()];
    sim.faults.throttleNext('callback', 2);
    await h.activate(a);
    await expect.poll(() => callbacksFor(a.connectionId).length).toBe(1);
    const throttledAt = callbacksFor(a.connectionId)[0]!.at.getTime();
    // The pause starts when the worker has read the 429, a moment after the simulator answered
    // it: B is published only then (on a loaded machine B was otherwise taken before the pause).
    await expect
      .poll(() => h.logs.some((line) => line.includes('rate limited: queue paused')))
      .toBe(true);
    await h.activate(b);
    await h.waitForState(a.connectionId, 'accepted');
    await h.waitForState(b.connectionId, 'accepted');
    // B was published while the queue was paused: its only callback came after the pause.
    const [bCallback] = callbacksFor(b.connectionId);
    expect(bCallback!.at.getTime() - throttledAt).toBeGreaterThanOrEqual(1900);
    const job = await h.approvalQueue.getJob(`activation-${a.connectionId}`);
    expect(job?.attemptsMade).toBe(1);
  });

  it('400 ends callback_failed after one call, with the response recorded and the job failed', async () => {
    const h = await harness();
    const activation = generator.next();
    sim.faults.failNext('callback', 400);
    await h.activate(activation);
    const connection = await h.waitForState(activation.connectionId, 'callback_failed');
    expect(callbacksFor(activation.connectionId)).toHaveLength(1);
    // The callback carried the buyer's credentials: an answer that may quote them is not kept.
    expect(connection.callback).toMatchObject({
      outcome: 'failed',
      lastStatus: 400,
      response: { status: 400 },
    });
    expect(connection.callback?.response).not.toHaveProperty('body');
    await expect
      .poll(async () => (await h.approvalQueue.getJobs(['failed'])).map((job) => job.id))
      .toEqual([`activation-${activation.connectionId}`]);
  });

  it('keeps at most FAILED_JOBS_KEEP_COUNT failed jobs; each connection keeps its story in MongoDB', async () => {
    const h = await harness({ env: { FAILED_JOBS_KEEP_COUNT: '1' } });
    const refused = [generator.next(), generator.next()];
    for (const activation of refused) {
      sim.faults.failNext('callback', 400);
      await h.activate(activation);
      await h.waitForState(activation.connectionId, 'callback_failed');
    }
    // The older failed job went; the newer one stays for operators.
    await expect
      .poll(async () => (await h.approvalQueue.getJobs(['failed'])).map((job) => job.id))
      .toEqual([`activation-${refused[1]!.connectionId}`]);
    for (const activation of refused) {
      const stored = await h.repo.get(activation.connectionId);
      expect(stored?.callback).toMatchObject({ outcome: 'failed', response: { status: 400 } });
      expect(stored?.history.map((entry) => entry.event)).toContain('callback_failed');
    }
  });

  it('network errors and timeouts are retried', async () => {
    const h = await harness({ env: { CALLBACK_TIMEOUT_MS: '300' } });
    const activation = generator.next();
    sim.faults.add('callback', { kind: 'reset' }).add('callback', { kind: 'hang' });
    await h.activate(activation);
    await h.waitForState(activation.connectionId, 'accepted');
    expect(
      callbacksFor(activation.connectionId).map((call) => call.fault?.kind ?? call.status),
    ).toEqual(['reset', 'hang', 200]);
  });

  it('gives up at the retry horizon: callback_failed, job in the failed set', async () => {
    const h = await harness({ env: { CALLBACK_RETRY_HORIZON_HOURS: String(0.5 / 3600) } });
    const activation = generator.next();
    sim.faults.add('callback', { kind: 'status', status: 503 }, Infinity);
    await h.activate(activation);
    const connection = await h.waitForState(activation.connectionId, 'callback_failed', 10_000);
    expect(connection.callback).toMatchObject({ outcome: 'failed', lastStatus: 503 });
    expect(callbacksFor(activation.connectionId).length).toBeGreaterThanOrEqual(2);
  });

  it('an expired callback token is refreshed once', async () => {
    const h = await harness();
    const first = generator.next();
    await h.activate(first);
    await h.waitForState(first.connectionId, 'accepted');
    const tokenRequests = sim.count('token');
    sim.identity.expireAccessTokens();
    const second = generator.next();
    await h.activate(second);
    await h.waitForState(second.connectionId, 'accepted');
    expect(callbacksFor(second.connectionId).map((call) => call.status)).toEqual([401, 200]);
    expect(sim.count('token') - tokenRequests).toBe(1);
  });
});

describe('exactly once in effect', () => {
  it('the same job processed twice gives one document and one callback', async () => {
    const h = await harness();
    const activation = generator.next();
    await h.activate(activation, 'first-delivery');
    await h.waitForState(activation.connectionId, 'accepted');
    await h.activate(activation, 'redelivery');
    await expect.poll(async () => (await h.approvalQueue.getJobs(['completed'])).length).toBe(2);
    expect(callbacksFor(activation.connectionId)).toHaveLength(1);
    const connection = await h.repo.get(activation.connectionId);
    expect(
      connection?.history.filter((entry) => entry.event === 'activation_received'),
    ).toHaveLength(1);
  });

  it('two workers on one queue give one document and one callback per connection', async () => {
    const h = await harness();
    h.addWorker();
    const activations = Array.from({ length: 30 }, () => generator.next());
    // Each activation is published twice under different ids, so both workers may hold the same connection at once.
    await Promise.all(
      activations.flatMap((a) => [
        h.activate(a, `a-${a.connectionId}`),
        h.activate(a, `b-${a.connectionId}`),
      ]),
    );
    for (const a of activations) await h.waitForState(a.connectionId, 'accepted');
    await expect
      .poll(async () => (await h.approvalQueue.getJobs(['completed'])).length, { timeout: 15_000 })
      .toBe(60);
    for (const a of activations) expect(callbacksFor(a.connectionId)).toHaveLength(1);
  });

  it('a deactivation processed before its activation leaves it deactivated, with no accepted sent', async () => {
    const h = await harness();
    const activation = generator.next();
    await h.repo.recordDeactivation(activation.connectionId, {
      requestId: 'deact-1',
      receivedAt: new Date(),
    });
    await h.activate(activation);
    await expect.poll(async () => (await h.approvalQueue.getJobs(['completed'])).length).toBe(1);
    const connection = await h.repo.get(activation.connectionId);
    expect(connection?.state).toBe('deactivated');
    expect(connection?.activation?.connectionId).toBe(activation.connectionId);
    expect(connection?.history.map((entry) => entry.event)).toEqual([
      'deactivated_before_activation',
      'stale_activation',
    ]);
    expect(callbacksFor(activation.connectionId)).toHaveLength(0);
  });

  it('a deactivation while the callback is being retried stops it: no accepted afterwards', async () => {
    const h = await harness({
      env: { CALLBACK_BACKOFF_BASE_MS: '500', CALLBACK_BACKOFF_MAX_MS: '500' },
    });
    const activation = generator.next();
    sim.faults.failNext('callback', 503, 1);
    await h.activate(activation);
    await expect.poll(() => callbacksFor(activation.connectionId).length).toBe(1);
    await h.repo.recordDeactivation(activation.connectionId, {
      requestId: 'deact-2',
      receivedAt: new Date(),
    });
    await expect
      .poll(async () => (await h.approvalQueue.getJobs(['completed'])).length, { timeout: 15_000 })
      .toBe(1);
    expect(callbacksFor(activation.connectionId).map((call) => call.status)).toEqual([503]);
    expect((await h.repo.get(activation.connectionId))?.state).toBe('deactivated');
  });
});
