// Operators decide held connections, retry failed callbacks and suspend accepted connections
// through the operations API: the ingress, operations, approval and deprovision worker processes,
// against Redis, FerretDB and the simulator.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FortellisCaller, startSimulator, type Simulator } from '@fortellis-admin/simulator';
import { startService, type ManagedProcess } from '@fortellis-admin/test-support';
import { stackEnv } from '@fortellis-admin/test-support/in-vitest';

const TOKEN = 'e2e-operator-Lz5Xc9Vb3Nm7Qw2Er6Ty0Ui';
/** Prometheus' credential: reads /metrics and nothing else. */
const SCRAPE_TOKEN = 'e2e-scrape-Wq8Ti4Ok7PlMn2Bv6Cx0Za';
let sim: Simulator;
let ingress: ManagedProcess;
let operations: ManagedProcess;
let approval: ManagedProcess;
let deprovision: ManagedProcess;
let ingressUrl: string;
let opsUrl: string;

beforeAll(async () => {
  sim = await startSimulator();
  const stack = await stackEnv(
    sim.env(),
    'e2e-ops',
    [
      { name: 'carol', role: 'operator', token: TOKEN },
      { name: 'prometheus', role: 'metrics', token: SCRAPE_TOKEN },
    ],
    { APPROVAL_DEFAULT_ACTION: 'review' },
  );
  ({ ingressUrl, opsUrl } = stack);
  ingress = await startService('ingress', stack.env);
  operations = await startService('operations', stack.env);
  approval = await startService('approval-worker', stack.env);
  deprovision = await startService('deprovision-worker', stack.env);
});

afterAll(async () => {
  await deprovision.stop();
  await approval.stop();
  await operations.stop();
  await ingress.stop();
  await sim.stop();
});

async function ops(path: string, init: RequestInit = {}): Promise<{ status: number; body: any }> {
  const response = await fetch(`${opsUrl}${path}`, {
    ...init,
    headers: {
      authorization: `Bearer ${TOKEN}`,
      'content-type': 'application/json',
      ...init.headers,
    },
  });
  return { status: response.status, body: await response.json() };
}

async function stateOf(connectionId: string): Promise<string> {
  return (await ops(`/ops/connections/${connectionId}`)).body.state;
}

describe('deciding held connections through the operations API', () => {
  it(
    'approving a held connection ends accepted with one callback; rejecting sends rejected with the reason',
    { timeout: 60_000 },
    async () => {
      const caller = new FortellisCaller({
        adminApiUrl: ingressUrl,
        token: () => sim.identity.mint(sim.providerClient.clientId),
        seed: 313,
      });
      const [kept, refused] = await caller.activateMany({ count: 2 });
      await caller.close();
      await expect
        .poll(async () => (await ops('/ops/connections?state=pending_review')).body.items.length, {
          timeout: 15_000,
        })
        .toBe(2);
      expect(sim.calls('callback')).toHaveLength(0);

      expect(
        (await ops(`/ops/connections/${kept!.connectionId}/approve`, { method: 'POST' })).status,
      ).toBe(202);
      expect(
        (
          await ops(`/ops/connections/${refused!.connectionId}/reject`, {
            method: 'POST',
            body: JSON.stringify({ reason: 'Unknown dealer.' }),
          })
        ).status,
      ).toBe(202);
      await expect.poll(() => stateOf(kept!.connectionId), { timeout: 15_000 }).toBe('accepted');
      await expect
        .poll(() => stateOf(refused!.connectionId), { timeout: 15_000 })
        .toBe('rejection_sent');

      const bodies = (id: string) =>
        sim
          .calls('callback')
          .filter((call) => call.params.connectionId === id)
          .map((call) => call.body);
      const account = sim.backendAccounts().find((a) => a.connectionId === kept!.connectionId);
      expect(bodies(kept!.connectionId)).toEqual([
        { status: 'accepted', auth: account?.credentials },
      ]);
      expect(bodies(refused!.connectionId)).toEqual([
        { status: 'rejected', error: 'Unknown dealer.' },
      ]);
      const detail = (await ops(`/ops/connections/${kept!.connectionId}`)).body;
      expect(detail.decision).toMatchObject({
        action: 'approve',
        ruleId: 'operator',
        decidedBy: 'ops:carol',
      });
      expect(detail.history.map((entry: { event: string }) => entry.event)).toEqual([
        'activation_received',
        'held_for_review',
        'operator_approve_requested',
        'decided_approve',
        'provisioned',
        'callback_accepted_acknowledged',
      ]);

      // Deciding again is a wrong-state action.
      const again = await ops(`/ops/connections/${kept!.connectionId}/approve`, { method: 'POST' });
      expect(again.status).toBe(409);
    },
  );

  it(
    'retry re-runs a failed callback: callback_failed, then accepted after the operator retries',
    { timeout: 60_000 },
    async () => {
      const caller = new FortellisCaller({
        adminApiUrl: ingressUrl,
        token: () => sim.identity.mint(sim.providerClient.clientId),
        seed: 414,
      });
      const [held] = await caller.activateMany({ count: 1 });
      await caller.close();
      await expect
        .poll(() => stateOf(held!.connectionId), { timeout: 15_000 })
        .toBe('pending_review');
      sim.faults.failNext('callback', 400);
      expect(
        (await ops(`/ops/connections/${held!.connectionId}/approve`, { method: 'POST' })).status,
      ).toBe(202);
      await expect
        .poll(() => stateOf(held!.connectionId), { timeout: 15_000 })
        .toBe('callback_failed');

      const retried = await ops(`/ops/connections/${held!.connectionId}/retry`, { method: 'POST' });
      expect(retried.status).toBe(202);
      await expect.poll(() => stateOf(held!.connectionId), { timeout: 15_000 }).toBe('accepted');
      const calls = sim
        .calls('callback')
        .filter((call) => call.params.connectionId === held!.connectionId);
      expect(calls.map((call) => call.status)).toEqual([400, 200]);
      expect(
        (await ops(`/ops/connections/${held!.connectionId}/retry`, { method: 'POST' })).status,
      ).toBe(409);
    },
  );

  it(
    'suspending an accepted connection sends rejected with the reason once; a deactivation afterwards cleans up and reports as for any connection',
    { timeout: 60_000 },
    async () => {
      const caller = new FortellisCaller({
        adminApiUrl: ingressUrl,
        token: () => sim.identity.mint(sim.providerClient.clientId),
        seed: 515,
      });
      const [held] = await caller.activateMany({ count: 1 });
      const id = held!.connectionId;
      await expect.poll(() => stateOf(id), { timeout: 15_000 }).toBe('pending_review');
      const early = await ops(`/ops/connections/${id}/suspend`, {
        method: 'POST',
        body: JSON.stringify({ reason: 'Unpaid invoices' }),
      });
      expect(early.status).toBe(409);
      expect(early.body.message).toBe(
        'connection is pending_review: only an accepted connection can be suspended',
      );
      expect((await ops(`/ops/connections/${id}/approve`, { method: 'POST' })).status).toBe(202);
      await expect.poll(() => stateOf(id), { timeout: 15_000 }).toBe('accepted');

      const suspended = await ops(`/ops/connections/${id}/suspend`, {
        method: 'POST',
        body: JSON.stringify({ reason: 'Unpaid invoices' }),
      });
      expect(suspended.status).toBe(202);
      expect(suspended.body).toMatchObject({ state: 'suspending', actor: 'ops:carol' });
      await expect.poll(() => stateOf(id), { timeout: 15_000 }).toBe('suspended');
      const bodies = sim
        .calls('callback')
        .filter((call) => call.params.connectionId === id)
        .map((call) => call.body as { status: string });
      expect(bodies.map((body) => body.status)).toEqual(['accepted', 'rejected']);
      expect(bodies[1]).toEqual({ status: 'rejected', error: 'Unpaid invoices' });
      const other = await ops(`/ops/connections/${id}/suspend`, {
        method: 'POST',
        body: JSON.stringify({ reason: 'Abuse' }),
      });
      expect(other.status).toBe(409);
      expect(other.body.message).toBe(
        'connection is suspended: already suspended by ops:carol (Unpaid invoices)',
      );

      expect((await caller.deactivate(id)).status).toBe(200);
      await caller.close();
      await expect
        .poll(async () => (await ops(`/ops/connections/${id}`)).body.steps, { timeout: 15_000 })
        .toMatchObject({ cleanup: { status: 'done' }, deactivationReport: { status: 'done' } });
      const account = sim.backendAccounts().find((a) => a.connectionId === id);
      expect(account?.deprovisionedAt).toBeInstanceOf(Date);
      expect((await ops(`/ops/connections/${id}`)).body.state).toBe('deactivated');
    },
  );
});

describe("the operators' roles on the running process", () => {
  it("the metrics credential scrapes /metrics and nothing else; an operator cannot run an admin's dry run", async () => {
    const scrape = (path: string) =>
      fetch(`${opsUrl}${path}`, { headers: { authorization: `Bearer ${SCRAPE_TOKEN}` } });
    const metrics = await scrape('/metrics');
    expect(metrics.status).toBe(200);
    expect(await metrics.text()).toContain('fortellis_admin_http_requests_total');
    for (const path of ['/ops/connections', '/ops/attention', '/ops/queues/api/queues']) {
      const refused = await scrape(path);
      expect(refused.status, path).toBe(403);
      expect(await refused.json(), path).toMatchObject({ error: 'FORBIDDEN_ROLE' });
    }
    const dryRun = await ops('/ops/rules/check', {
      method: 'POST',
      body: JSON.stringify({ rules: 'rules: []' }),
    });
    expect(dryRun).toEqual({
      status: 403,
      body: {
        code: 403,
        error: 'FORBIDDEN_ROLE',
        message: 'this needs the admin role; the operator role does not allow it',
      },
    });
  });
});
