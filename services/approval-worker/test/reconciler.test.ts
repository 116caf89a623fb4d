// The approval worker's reconciler on real Redis, the MongoDB-wire server and the simulator: a
// connection whose job was lost (here: never published) is found by the job scheduler's run and
// moved on, once; one with a live job is left to that job.
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { JOB_NAMES, JOB_OPTIONS, RECONCILER_JOB_NAMES } from '@fortellis-admin/contracts';
import { ActivationGenerator, startSimulator, type Simulator } from '@fortellis-admin/simulator';
import { createTestNamespace } from '@fortellis-admin/test-support';
import { startApprovalHarness, type ApprovalHarness } from './approval-harness.ts';
import { approvalJobIdsOf } from '../src/domain/approval-use-cases.ts';

let sim: Simulator;
let h: ApprovalHarness;
const generator = new ActivationGenerator(777);

beforeAll(async () => {
  sim = await startSimulator();
  const ns = createTestNamespace('reconcile');
  h = await startApprovalHarness({
    sim,
    redisUrl: inject('redisUrl'),
    mongoUrl: inject('mongoUrl'),
    prefix: ns.queuePrefix,
    dbName: ns.dbName,
    reconcile: true,
    env: { RECONCILE_EVERY_MS: '1000', RECONCILE_AFTER_MS: '1000' },
  });
});
afterAll(async () => {
  await h.close();
  await sim.stop();
});

const callbacksFor = (connectionId: string) =>
  sim.calls('callback').filter((call) => call.params.connectionId === connectionId);

/** Stores a connection as a worker would have before its job was lost. */
async function storedWithoutJob(state: 'received' | 'approved') {
  const activation = generator.next();
  await h.repo.recordActivation({ activation, requestId: 'lost-job', receivedAt: new Date() });
  if (state === 'approved')
    await h.repo.recordDecision(
      activation.connectionId,
      { action: 'approve', ruleId: 'default', decidedBy: 'rules', decidedAt: new Date() },
      ['received'],
    );
  return activation;
}

describe('the reconciler', () => {
  it('moves on a connection left approved with no job: one accepted callback', async () => {
    const activation = await storedWithoutJob('approved');
    await h.waitForState(activation.connectionId, 'accepted', 20_000);
    await delay(2500);
    expect(callbacksFor(activation.connectionId)).toHaveLength(1);
    expect(await h.approvalQueue.getJobs(['completed'])).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ name: RECONCILER_JOB_NAMES.stalledConnectionFound }),
      ]),
    );
  });

  it('decides a connection left received with no job by the rules, and calls back once', async () => {
    const activation = await storedWithoutJob('received');
    const done = await h.waitForState(activation.connectionId, 'accepted', 20_000);
    expect(done.decision?.decidedBy).toBe('rules');
    expect(callbacksFor(activation.connectionId)).toHaveLength(1);
  });

  it('leaves a connection whose job is still live (delayed) to that job', async () => {
    const activation = await storedWithoutJob('approved');
    const activationJobId = approvalJobIdsOf(activation.connectionId)[0] ?? '';
    // A job waiting out a long backoff: the reconciler must not hurry it.
    await h.approvalQueue.add(
      JOB_NAMES.callbackRetryRequested,
      {},
      { ...JOB_OPTIONS, jobId: activationJobId, delay: 60_000 },
    );
    await delay(4000);
    expect(callbacksFor(activation.connectionId)).toEqual([]);
    expect((await h.repo.get(activation.connectionId))?.state).toBe('approved');
  });
});
