// The deprovision worker's reconciler on real Redis, the MongoDB-wire server and the simulator: a
// deactivation recorded but whose job was lost (here: never published) is found by the job
// scheduler's run, cleaned up and reported once.
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ActivationGenerator, startSimulator, type Simulator } from '@fortellis-admin/simulator';
import { createTestNamespace } from '@fortellis-admin/test-support';
import { startDeprovisionHarness, type DeprovisionHarness } from './deprovision-harness.ts';

let sim: Simulator;
let h: DeprovisionHarness;

beforeAll(async () => {
  sim = await startSimulator();
  const ns = createTestNamespace('reconcile-deprovision');
  h = await startDeprovisionHarness({
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

describe('the reconciler', () => {
  it('finishes a deactivation whose job was lost: one clean-up and one report', async () => {
    const activation = new ActivationGenerator(31337).next();
    await h.seedAccepted(activation);
    const reportsBefore = sim.calls('status').length;
    await h.repo.recordDeactivation(activation.connectionId, {
      requestId: 'lost-job',
      receivedAt: new Date(),
    });
    const done = await h.waitForSteps(
      activation.connectionId,
      ['cleanup', 'deactivationReport'],
      20_000,
    );
    expect(done.steps?.cleanup?.status).toBe('done');
    await delay(2500);
    expect(
      sim
        .calls('deprovision')
        .filter(
          (c) => (c.body as { connectionId?: string }).connectionId === activation.connectionId,
        ),
    ).toHaveLength(1);
    expect(sim.calls('status').length - reportsBefore).toBe(1);
  });
});
