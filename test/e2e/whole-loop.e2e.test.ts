// The whole loop, end to end: the three services as separate processes (their real main.ts,
// configured only through the environment) against real Redis, the MongoDB-wire server and the
// simulator. 200 activations end accepted with one backend account and one callback each, the
// callback carrying that account's credentials; 200 deactivations end with that account removed,
// one backend call and one status report each; then the same with the approval worker killed and
// restarted mid-run.
import { afterEach, describe, expect, inject, it } from 'vitest';
import { MongoClient } from 'mongodb';
import type { ConnectionDocument } from '@fortellis-admin/connection-store';
import { FortellisCaller, startSimulator, type Simulator } from '@fortellis-admin/simulator';
import {
  createTestNamespace,
  freePort,
  startService,
  type ManagedProcess,
  type TestNamespace,
} from '@fortellis-admin/test-support';
import { isolatedServiceEnv } from '@fortellis-admin/test-support/in-vitest';

const COUNT = 200;
const opened: Array<{ stop(): Promise<void> }> = [];
afterEach(async () => {
  for (const item of opened.splice(0).reverse()) await item.stop();
});

interface Stack {
  sim: Simulator;
  ns: TestNamespace;
  ingressUrl: string;
  env: Record<string, string>;
  approval: ManagedProcess;
  connections(): Promise<ConnectionDocument[]>;
  count(filter: Record<string, unknown>): Promise<number>;
}

async function startStack(label: string): Promise<Stack> {
  const sim = await startSimulator();
  opened.push(sim);
  const ns = createTestNamespace(label);
  const port = await freePort();
  const env = {
    ...sim.env(),
    ...isolatedServiceEnv(ns),
    PORT: String(port),
    LOG_LEVEL: 'warn',
    APPROVAL_DEFAULT_ACTION: 'approve',
    CALLBACK_RATE_LIMIT_PER_SECOND: '1000',
    CALLBACK_TIMEOUT_MS: '2000',
    CALLBACK_BACKOFF_BASE_MS: '200',
    RETRY_BACKOFF_BASE_MS: '200',
    WORKER_LOCK_MS: '2000',
    WORKER_CONCURRENCY: '16',
  };
  // startService waits for "<name> started", which is logged at info: start at info, then quiet.
  const ingress = await startService('ingress', { ...env, LOG_LEVEL: 'info' });
  opened.push(ingress);
  const approval = await startService('approval-worker', { ...env, LOG_LEVEL: 'info' });
  opened.push(approval);
  const deprovision = await startService('deprovision-worker', { ...env, LOG_LEVEL: 'info' });
  opened.push(deprovision);
  const mongo = new MongoClient(inject('mongoUrl'));
  await mongo.connect();
  opened.push({ stop: () => mongo.close() });
  const collection = mongo.db(ns.dbName).collection<ConnectionDocument>('connections');
  return {
    sim,
    ns,
    ingressUrl: `http://127.0.0.1:${port}`,
    env,
    approval,
    connections: () => collection.find({}).toArray(),
    count: (filter) => collection.countDocuments(filter),
  };
}

async function until(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    // Polling is kept sparse: on FerretDB (SQLite) every query competes with the workers' writes.
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

function successfulCallbacksPerConnection(sim: Simulator): Map<string, number> {
  const counts = new Map<string, number>();
  for (const call of sim.calls('callback')) {
    if (call.status === 200)
      counts.set(
        call.params.connectionId ?? '',
        (counts.get(call.params.connectionId ?? '') ?? 0) + 1,
      );
  }
  return counts;
}

async function activatePhase(
  stack: Stack,
  seed: number,
  midRun?: (stack: Stack) => Promise<void>,
): Promise<string[]> {
  const started = performance.now();
  const caller = new FortellisCaller({
    adminApiUrl: stack.ingressUrl,
    token: () => stack.sim.identity.mint(stack.sim.providerClient.clientId),
    seed,
  });
  const sending = caller.activateMany({ count: COUNT, concurrency: 20 });
  if (midRun !== undefined) await midRun(stack);
  const results = await sending;
  await caller.close();
  expect(results.filter((r) => r.status === 200)).toHaveLength(COUNT);
  const ids = results.map((r) => r.connectionId);
  await until(
    `${COUNT} connections are accepted`,
    async () => (await stack.count({ state: 'accepted' })) === COUNT,
    90_000,
  );
  const perConnection = successfulCallbacksPerConnection(stack.sim);
  expect(ids.filter((id) => perConnection.get(id) !== 1)).toEqual([]);
  expect([...perConnection.values()].reduce((a, b) => a + b, 0)).toBe(COUNT);
  // One backend account per connection, whose credentials its acknowledged callback carried.
  const accounts = new Map(stack.sim.backendAccounts().map((a) => [a.connectionId, a]));
  expect(accounts.size).toBe(COUNT);
  const carried = new Map(
    stack.sim
      .calls('callback')
      .filter((call) => call.status === 200)
      .map((call) => [call.params.connectionId, (call.body as { auth?: unknown }).auth]),
  );
  expect(ids.filter((id) => accounts.get(id) === undefined)).toEqual([]);
  for (const id of ids) expect(carried.get(id)).toEqual(accounts.get(id)?.credentials);
  // Nothing of them is left in the database once Fortellis has them.
  const stored = await stack.connections();
  expect(stored.filter((c) => c.provisioning?.credentials !== undefined)).toEqual([]);
  expect(
    stored.filter((c) => c.provisioning?.accountId !== accounts.get(c.connectionId)?.accountId),
  ).toEqual([]);
  console.log(
    `activation phase: ${COUNT} accepted, one account and one callback with its credentials each, in ${Math.round(performance.now() - started)} ms`,
  );
  return ids;
}

async function deactivatePhase(stack: Stack, ids: string[]): Promise<void> {
  const started = performance.now();
  const statusBefore = stack.sim.count('status');
  const caller = new FortellisCaller({
    adminApiUrl: stack.ingressUrl,
    token: () => stack.sim.identity.mint(stack.sim.providerClient.clientId),
  });
  const results = await caller.deactivateMany(ids, { concurrency: 20 });
  await caller.close();
  expect(results.filter((r) => r.status === 200)).toHaveLength(COUNT);
  await until(
    `${COUNT} connections are deactivated and cleaned up`,
    async () =>
      (await stack.count({
        state: 'deactivated',
        'steps.cleanup.status': 'done',
        'steps.deactivationReport.status': 'done',
      })) === COUNT,
    90_000,
  );
  const backend = new Map<string, number>();
  for (const call of stack.sim.calls('deprovision')) {
    const id = (call.body as { connectionId: string }).connectionId;
    if (call.status === 200) backend.set(id, (backend.get(id) ?? 0) + 1);
  }
  expect(ids.filter((id) => backend.get(id) !== 1)).toEqual([]);
  // Each account provisioned on acceptance is removed, and no other.
  const accounts = stack.sim.backendAccounts().filter((a) => ids.includes(a.connectionId));
  expect(accounts.filter((a) => a.deprovisionedAt === undefined)).toEqual([]);
  const reports = stack.sim.calls('status').slice(statusBefore);
  expect(reports.filter((call) => call.status === 204)).toHaveLength(COUNT);
  for (const connection of await stack.connections())
    expect(connection.steps?.deactivationReport?.attempts).toBe(1);
  console.log(
    `deactivation phase: ${COUNT} deactivated, one backend call and one report each, in ${Math.round(performance.now() - started)} ms`,
  );
}

describe('the whole loop', () => {
  it(
    `${COUNT} activations then ${COUNT} deactivations through three processes`,
    { timeout: 240_000 },
    async () => {
      const stack = await startStack('e2e');
      const ids = await activatePhase(stack, 1001);
      await deactivatePhase(stack, ids);
    },
  );

  it(
    'the same, with the approval worker killed (SIGKILL) and restarted mid-run',
    { timeout: 240_000 },
    async () => {
      const stack = await startStack('e2e-kill');
      const ids = await activatePhase(stack, 2002, async (running) => {
        const { sim, approval, env } = running;
        await until(
          '60 callbacks were answered',
          async () => sim.calls('callback').filter((c) => c.status === 200).length >= 60,
          60_000,
        );
        // Freeze Fortellis so the worker dies with its jobs mid-callback rather than in the one
        // window no system can close: after Fortellis answered 200 and before that was recorded.
        sim.faults.add('callback', { kind: 'hang' }, Infinity);
        // Every callback Fortellis answered is recorded before the kill: on a loaded machine a
        // fixed pause was not always enough, and the kill then fell into that window.
        const answered = sim.calls('callback').filter((c) => c.status === 200).length;
        await until(
          `the ${answered} answered callbacks are recorded`,
          async () => (await running.count({ state: 'accepted' })) >= answered,
          30_000,
        );
        await new Promise((resolve) => setTimeout(resolve, 500));
        approval.child.kill('SIGKILL');
        await approval.stop();
        sim.faults.clear('callback');
        const restarted = await startService('approval-worker', { ...env, LOG_LEVEL: 'info' });
        opened.push(restarted);
        console.log(
          `approval worker killed after ${sim.calls('callback').filter((c) => c.status === 200).length} callbacks and restarted`,
        );
      });
      await deactivatePhase(stack, ids);
    },
  );
});
