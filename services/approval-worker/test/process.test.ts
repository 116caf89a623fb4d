// The approval worker as a process: an invalid rules file stops start-up; a worker killed mid-job
// leaves a job that another worker completes with one successful callback.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Queue } from 'bullmq';
import { MongoClient } from 'mongodb';
import { JOB_NAMES, QUEUE_NAMES } from '@fortellis-admin/contracts';
import { ActivationGenerator, startSimulator, type Simulator } from '@fortellis-admin/simulator';
import {
  createTestNamespace,
  publishActivation,
  runServiceToExit,
  startService,
} from '@fortellis-admin/test-support';

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(async () => {
  await sim.stop();
});

function env(
  ns: { queuePrefix: string; dbName: string },
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    ...sim.env(),
    REDIS_URL: inject('redisUrl'),
    MONGODB_URL: inject('mongoUrl'),
    MONGODB_DATABASE: ns.dbName,
    QUEUE_PREFIX: ns.queuePrefix,
    ...extra,
  };
}

describe('approval worker process', () => {
  it('refuses to start with an invalid rules file, naming the problem in one line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rules-'));
    const file = join(dir, 'rules.yaml');
    await writeFile(
      file,
      'defaultAction: approve\nrules:\n  - id: vip\n    when: { appInfo.id: { equals: abc } }\n    action: accept\n',
    );
    const result = await runServiceToExit(
      'approval-worker',
      env(createTestNamespace('rules'), { APPROVAL_RULES_FILE: file }),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `approval-worker: invalid configuration: APPROVAL_RULES_FILE (${file}) is invalid: /rules/0/action (rule "vip", line 5, column 13) must be equal to one of the allowed values\n`,
    );
  });

  it('refuses a rules file that does not exist', async () => {
    const result = await runServiceToExit(
      'approval-worker',
      env(createTestNamespace('rules'), { APPROVAL_RULES_FILE: '/nonexistent/rules.json' }),
    );
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'approval-worker: invalid configuration: APPROVAL_RULES_FILE (/nonexistent/rules.json) cannot be read: ENOENT\n',
    );
  });

  it('starts with a valid rules file and applies it', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rules-'));
    const file = join(dir, 'rules.json');
    await writeFile(
      file,
      JSON.stringify({ defaultAction: 'reject', defaultReason: 'Invite only.', rules: [] }),
    );
    const ns = createTestNamespace('rules-ok');
    const worker = await startService('approval-worker', env(ns, { APPROVAL_RULES_FILE: file }));
    try {
      const activation = new ActivationGenerator(9).next();
      const queue = new Queue(QUEUE_NAMES.approval, {
        connection: { url: inject('redisUrl') },
        prefix: ns.queuePrefix,
      });
      await publishActivation(queue, activation, { requestId: 'r-1' });
      await queue.close();
      await expect
        .poll(
          () =>
            sim
              .calls('callback')
              .filter((c) => c.params.connectionId === activation.connectionId)
              .map((c) => c.body),
          { timeout: 10_000 },
        )
        .toEqual([{ status: 'rejected', error: 'Invite only.' }]);
    } finally {
      await worker.stop();
    }
  });

  it(
    'a worker killed mid-job leaves a job that another worker completes with one successful callback',
    { timeout: 60_000 },
    async () => {
      const ns = createTestNamespace('kill');
      const settings = {
        APPROVAL_DEFAULT_ACTION: 'approve',
        WORKER_LOCK_MS: '2000',
        CALLBACK_TIMEOUT_MS: '2000',
        CALLBACK_BACKOFF_BASE_MS: '200',
      };
      const first = await startService('approval-worker', env(ns, settings));
      const activation = new ActivationGenerator(4242).next();
      const calls = () =>
        sim.calls('callback').filter((c) => c.params.connectionId === activation.connectionId);
      sim.faults.add('callback', { kind: 'hang' });
      const queue = new Queue(QUEUE_NAMES.approval, {
        connection: { url: inject('redisUrl') },
        prefix: ns.queuePrefix,
      });
      await publishActivation(queue, activation, { requestId: 'r-kill' });
      await expect.poll(() => calls().length, { timeout: 10_000 }).toBe(1);
      first.child.kill('SIGKILL');
      await first.stop();

      const second = await startService('approval-worker', env(ns, settings));
      try {
        await expect
          .poll(() => calls().map((c) => c.status ?? 'no answer'), {
            timeout: 40_000,
            interval: 250,
          })
          .toEqual(['no answer', 200]);
        const mongo = new MongoClient(inject('mongoUrl'));
        const connection = await mongo
          .db(ns.dbName)
          .collection('connections')
          .findOne({ _id: activation.connectionId as never });
        await mongo.close();
        expect(connection).toMatchObject({
          state: 'accepted',
          callback: { attempts: 2, outcome: 'acknowledged' },
        });
        await expect
          .poll(
            async () =>
              (await queue.getJobs(['completed']))
                .filter((job) => job.name === JOB_NAMES.activationReceived)
                .map((job) => job.id),
            { timeout: 15_000 },
          )
          .toEqual([`activation-${activation.connectionId}`]);
      } finally {
        await second.stop();
        await queue.close();
      }
    },
  );
});
