// Component tests of the deprovision worker with real Redis, the MongoDB-wire server and the simulator.
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from 'vitest';
import { contracts, JOB_NAMES, JOB_OPTIONS, jobIdFor } from '@fortellis-admin/contracts';
import { ActivationGenerator, startSimulator, type Simulator } from '@fortellis-admin/simulator';
import { createTestNamespace } from '@fortellis-admin/test-support';
import { startDeprovisionHarness, type DeprovisionHarness } from './deprovision-harness.ts';

let sim: Simulator;
const generator = new ActivationGenerator(808);
const open: DeprovisionHarness[] = [];

beforeAll(async () => {
  sim = await startSimulator({ backendAuth: { header: 'x-api-key', value: 'backend-secret' } });
});
afterAll(async () => {
  await sim.stop();
});
afterEach(async () => {
  for (const h of open.splice(0)) await h.close();
  sim.faults.clear();
});

async function harness(env: Record<string, string | undefined> = {}): Promise<DeprovisionHarness> {
  const ns = createTestNamespace('deprovision');
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
// Status reports carry no connection id: tests count reports made since a mark.
const reportsSince = (mark: number) => sim.calls('status').slice(mark);

describe('deactivating an accepted connection', () => {
  it('ends with one backend call and one status report whose body matches the contract exactly', async () => {
    const h = await harness();
    const activation = generator.next();
    await h.seedAccepted(activation);
    const mark = sim.count('status');
    await h.deactivate(activation.connectionId);
    const connection = await h.waitForSteps(activation.connectionId, [
      'cleanup',
      'deactivationReport',
    ]);

    expect(connection.state).toBe('deactivated');
    expect(connection.steps).toMatchObject({
      cleanup: { status: 'done', attempts: 1, lastStatus: 200 },
      deactivationReport: { status: 'done', attempts: 1, lastStatus: 204 },
    });
    const [backend] = backendCalls(activation.connectionId);
    expect(backendCalls(activation.connectionId)).toHaveLength(1);
    expect(backend).toMatchObject({
      headers: { 'x-api-key': 'backend-secret', 'idempotency-key': activation.connectionId },
      body: {
        connectionId: activation.connectionId,
        subscriptionId: activation.subscriptionId,
        organization: {
          id: activation.organizationInfo.id,
          name: activation.organizationInfo.name,
        },
        apiId: activation.apiInfo.id,
        requestId: `req-deactivate-${activation.connectionId.slice(0, 8)}`,
      },
    });
    const reports = reportsSince(mark);
    expect(reports).toHaveLength(1);
    expect(reports[0]!.query).toEqual({ tenantID: sim.integrationTenantId });
    expect(reports[0]!.body).toEqual({
      application_code: 'provider.fortellis-admin',
      module: { name: 'Integration backend', version: '1.0.0' },
      vendor_system: { name: 'Fortellis Admin API', version: '1.0.0' },
      events: [
        { category: 'activation', action: 'deactivated integration', deactivation_event: true },
      ],
    });
    expect(contracts.integrationStatusBody.issues(reports[0]!.body)).toEqual([]);
  });

  it('the status API failing with 503 twice then 204 gives exactly three reports and one backend call', async () => {
    const h = await harness();
    const activation = generator.next();
    await h.seedAccepted(activation);
    const mark = sim.count('status');
    sim.faults.failNext('status', 503, 2);
    await h.deactivate(activation.connectionId);
    const connection = await h.waitForSteps(activation.connectionId, [
      'cleanup',
      'deactivationReport',
    ]);
    expect(reportsSince(mark).map((call) => call.status)).toEqual([503, 503, 204]);
    expect(backendCalls(activation.connectionId)).toHaveLength(1);
    expect(connection.steps).toMatchObject({
      cleanup: { status: 'done', attempts: 1 },
      deactivationReport: { status: 'done', attempts: 3 },
    });
  });

  it('a 400 from the status API ends the report step failed without retries and leaves clean-up done', async () => {
    const h = await harness();
    const activation = generator.next();
    await h.seedAccepted(activation);
    const mark = sim.count('status');
    sim.faults.failNext('status', 400);
    await h.deactivate(activation.connectionId);
    const connection = await h.waitForSteps(activation.connectionId, [
      'cleanup',
      'deactivationReport',
    ]);
    expect(connection.steps).toMatchObject({
      cleanup: { status: 'done' },
      deactivationReport: {
        status: 'failed',
        attempts: 1,
        lastStatus: 400,
        response: { status: 400, body: expect.stringContaining('simulated failure') },
      },
    });
    await expect
      .poll(async () => (await h.queue.getJobs(['failed'])).map((job) => job.failedReason))
      .toEqual(['steps failed: deactivationReport']);
    expect(reportsSince(mark)).toHaveLength(1);
    expect(backendCalls(activation.connectionId)).toHaveLength(1);
  });

  it('a backend answering 503 is retried on its own; the report is made once', async () => {
    const h = await harness();
    const activation = generator.next();
    await h.seedAccepted(activation);
    const mark = sim.count('status');
    sim.faults.failNext('deprovision', 503, 2);
    await h.deactivate(activation.connectionId);
    await h.waitForSteps(activation.connectionId, ['cleanup', 'deactivationReport']);
    expect(backendCalls(activation.connectionId).map((call) => call.status)).toEqual([
      503, 503, 200,
    ]);
    expect(reportsSince(mark)).toHaveLength(1);
  });

  it('the same deactivation job processed twice gives one backend call and one report', async () => {
    const h = await harness();
    const activation = generator.next();
    await h.seedAccepted(activation);
    const mark = sim.count('status');
    await h.deactivate(activation.connectionId, 'first-delivery');
    await h.waitForSteps(activation.connectionId, ['cleanup', 'deactivationReport']);
    await h.deactivate(activation.connectionId, 'redelivery');
    await expect.poll(async () => (await h.queue.getJobs(['completed'])).length).toBe(2);
    expect(backendCalls(activation.connectionId)).toHaveLength(1);
    expect(reportsSince(mark)).toHaveLength(1);
    expect(
      (await h.repo.get(activation.connectionId))?.history.filter(
        (entry) => entry.event === 'deactivated',
      ),
    ).toHaveLength(1);
  });

  it('refreshes an expired integration-platform token once', async () => {
    const h = await harness();
    const [first, second] = [generator.next(), generator.next()];
    await h.seedAccepted(first);
    await h.seedAccepted(second);
    await h.deactivate(first.connectionId);
    await h.waitForSteps(first.connectionId, ['deactivationReport']);
    const tokens = sim.count('idpToken');
    const mark = sim.count('status');
    sim.expireIntegrationTokens();
    await h.deactivate(second.connectionId);
    await h.waitForSteps(second.connectionId, ['deactivationReport']);
    expect(reportsSince(mark).map((call) => call.status)).toEqual([401, 204]);
    expect(sim.count('idpToken') - tokens).toBe(1);
  });
});

describe('unknown connections and explicit choices', () => {
  it('a deactivation for an unknown connection records a tombstone; a later activation is stale', async () => {
    const h = await harness();
    const activation = generator.next();
    await h.deactivate(activation.connectionId);
    const connection = await h.waitForSteps(activation.connectionId, [
      'cleanup',
      'deactivationReport',
    ]);
    expect(connection).toMatchObject({
      state: 'deactivated',
      tombstone: true,
      steps: { cleanup: { status: 'skipped' }, deactivationReport: { status: 'skipped' } },
    });
    expect(backendCalls(activation.connectionId)).toHaveLength(0);
    const late = await h.repo.recordActivation({
      activation,
      requestId: 'late',
      receivedAt: new Date(),
    });
    expect(late.kind).toBe('stale');
    expect((await h.repo.get(activation.connectionId))?.state).toBe('deactivated');
  });

  it('the none adapter and an unconfigured status API are explicit in the logs and on the connection', async () => {
    const h = await harness({
      BACKEND_DEPROVISIONER: 'none',
      INTEGRATION_STATUS_BASE_URL: undefined,
    });
    const activation = generator.next();
    await h.seedAccepted(activation);
    const backendBefore = sim.count('deprovision');
    const statusBefore = sim.count('status');
    await h.deactivate(activation.connectionId);
    const connection = await h.waitForSteps(activation.connectionId, [
      'cleanup',
      'deactivationReport',
    ]);
    expect(connection.steps).toMatchObject({
      cleanup: {
        status: 'skipped',
        note: 'BACKEND_DEPROVISIONER is none: no backend accounts to clean up',
      },
      deactivationReport: {
        status: 'skipped',
        note: 'INTEGRATION_STATUS_BASE_URL is not set: not reported',
      },
    });
    expect(sim.count('deprovision')).toBe(backendBefore);
    expect(sim.count('status')).toBe(statusBefore);
    const logs = h.logs.join('');
    expect(logs).toContain('backend deprovisioner is \\"none\\"');
    expect(logs).toContain('INTEGRATION_STATUS_BASE_URL is not set');
    expect(logs).toContain('"step":"cleanup","note":"BACKEND_DEPROVISIONER is none');
  });
});

describe('activation reports', () => {
  it('reports "activated integration" for an accepted connection when configured', async () => {
    const h = await harness({ INTEGRATION_STATUS_REPORT_ACTIVATIONS: 'true' });
    const activation = generator.next();
    await h.seedAccepted(activation);
    const mark = sim.count('status');
    await h.announceAccepted(activation);
    const connection = await h.waitForSteps(activation.connectionId, ['activationReport']);
    expect(connection.steps?.activationReport).toMatchObject({ status: 'done', lastStatus: 204 });
    expect(reportsSince(mark).map((call) => (call.body as { events: unknown[] }).events)).toEqual([
      [{ category: 'activation', action: 'activated integration', activation_event: true }],
    ]);
  });

  it('does not report activations unless configured to', async () => {
    const h = await harness();
    const activation = generator.next();
    await h.seedAccepted(activation);
    const mark = sim.count('status');
    await h.announceAccepted(activation);
    await expect.poll(async () => (await h.queue.getJobs(['completed'])).length).toBe(1);
    expect(reportsSince(mark)).toHaveLength(0);
  });
});

describe('operator retries', () => {
  it('a reopened failed report is made again; the finished clean-up is not repeated', async () => {
    const h = await harness();
    const activation = generator.next();
    await h.seedAccepted(activation);
    const mark = sim.count('status');
    sim.faults.failNext('status', 400);
    await h.deactivate(activation.connectionId);
    await h.waitForSteps(activation.connectionId, ['cleanup', 'deactivationReport']);
    expect(await h.repo.reopenFailedSteps(activation.connectionId, 'ops:test')).toEqual([
      'deactivationReport',
    ]);
    const data = {
      connectionId: activation.connectionId,
      actor: 'ops:test',
      requestedAt: new Date().toISOString(),
      requestId: 'retry-1',
    };
    await h.queue.add(JOB_NAMES.deprovisionRetryRequested, data, {
      ...JOB_OPTIONS,
      jobId: jobIdFor.retryRequested('deprovision', data),
    });
    const connection = await h.waitForSteps(activation.connectionId, [
      'cleanup',
      'deactivationReport',
    ]);
    expect(connection.steps).toMatchObject({
      cleanup: { status: 'done', attempts: 1 },
      deactivationReport: { status: 'done', attempts: 2, lastStatus: 204 },
    });
    expect(reportsSince(mark).map((call) => call.status)).toEqual([400, 204]);
    expect(backendCalls(activation.connectionId)).toHaveLength(1);
  });
});
