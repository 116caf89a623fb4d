// The Redis ACL users the deployment ships (deploy/redis/users.acl, given passwords by
// deploy/redis/render-acl.sh as docker compose does) on a real redis-server started with them:
// the four services, as processes, each with its own user, carry activations, a suspension and a
// deactivation to their end without one command refused; the ingress's user publishes through the
// real publisher (its fsync check included) and can touch nothing else: not the call ledger, the
// locks or another prefix's keys, nor FLUSHALL, CONFIG SET, KEYS or SCAN.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import type { ConnectionDocument } from '@fortellis-admin/connection-store';
import { DEFAULT_QUEUE_PREFIX, JOB_NAMES, jobIdFor } from '@fortellis-admin/contracts';
import { createProducerConnection, JobPublisher } from '@fortellis-admin/service-kit';
import {
  ActivationGenerator,
  FortellisCaller,
  startSimulator,
  type Simulator,
} from '@fortellis-admin/simulator';
import {
  REPO_ROOT,
  capturingLogger,
  createTestNamespace,
  findBinary,
  freePort,
  redisServerArgs,
  startProcess,
  startService,
  waitForPort,
  type ManagedProcess,
  type ServiceName,
} from '@fortellis-admin/test-support';

const USERS = ['admin', 'ingress', 'operations', 'approval-worker', 'deprovision-worker'] as const;
type User = (typeof USERS)[number];
const passwords = Object.fromEntries(
  USERS.map((user) => [user, randomBytes(16).toString('hex')]),
) as Record<User, string>;
const passwordVariable = (user: User) =>
  `REDIS_${user.toUpperCase().replaceAll('-', '_')}_PASSWORD`;

const PREFIX = DEFAULT_QUEUE_PREFIX;
const OPERATOR_TOKEN = `acl-test-${randomBytes(16).toString('hex')}`;
let dir: string;
let redisProcess: ManagedProcess;
let port: number;
const url = (user: User) => `redis://${user}:${passwords[user]}@127.0.0.1:${port}`;
let admin: Redis;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'redis-acl-'));
  // The shipped rules, with this run's passwords, rendered the way docker compose renders them.
  const aclFile = join(dir, 'users.acl');
  execFileSync('sh', ['deploy/redis/render-acl.sh', 'deploy/redis/users.acl', aclFile], {
    cwd: REPO_ROOT,
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      ...Object.fromEntries(USERS.map((user) => [passwordVariable(user), passwords[user]])),
    },
  });
  const binary = findBinary('redis-server');
  if (binary === undefined) throw new Error('redis-server is not installed');
  port = await freePort();
  // appendonly yes, appendfsync always: what the ingress's fsync check wants to see.
  redisProcess = startProcess(binary, [...redisServerArgs(port, dir), '--aclfile', aclFile]);
  await waitForPort(port, 20_000, redisProcess.child);
  admin = new Redis(url('admin'));
});

afterAll(async () => {
  admin?.disconnect();
  await redisProcess?.stop();
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** Denials Redis has logged since the last reset, as `user: command or key`. */
async function aclDenials(): Promise<string[]> {
  const entries = (await admin.call('ACL', 'LOG')) as unknown[][];
  return entries.map((entry) => {
    const fields = new Map<string, unknown>();
    for (let i = 0; i + 1 < entry.length; i += 2) fields.set(String(entry[i]), entry[i + 1]);
    return `${String(fields.get('username'))}: ${String(fields.get('reason'))} ${String(fields.get('object'))}`;
  });
}

describe('the shipped Redis ACL users', () => {
  it('never a refusal for the services doing their work, each as its own user', async () => {
    const sim: Simulator = await startSimulator();
    const ns = createTestNamespace('acl');
    const mongo = new MongoClient(inject('mongoUrl'));
    const running: ManagedProcess[] = [];
    try {
      const [ingressPort, opsPort] = [await freePort(), await freePort()];
      const env = {
        ...sim.env(),
        MONGODB_URL: inject('mongoUrl'),
        MONGODB_DATABASE: ns.dbName,
        QUEUE_PREFIX: PREFIX,
        HOST: '127.0.0.1',
        OPS_HOST: '127.0.0.1',
        MONITORING_HOST: '127.0.0.1',
        PORT: String(ingressPort),
        OPS_PORT: String(opsPort),
        OPS_API_TOKENS: `acl=${OPERATOR_TOKEN}`,
        APPROVAL_DEFAULT_ACTION: 'approve',
        CALLBACK_BACKOFF_BASE_MS: '200',
        RETRY_BACKOFF_BASE_MS: '200',
        // The reconcilers run (and find nothing stalled) a few times during the test.
        RECONCILE_EVERY_MS: '1000',
        RECONCILE_AFTER_MS: '1000',
      };
      const services: ServiceName[] = [
        'ingress',
        'operations',
        'approval-worker',
        'deprovision-worker',
      ];
      for (const service of services)
        running.push(await startService(service, { ...env, REDIS_URL: url(service) }));

      const caller = new FortellisCaller({
        adminApiUrl: `http://127.0.0.1:${ingressPort}`,
        token: () => sim.identity.mint(sim.providerClient.clientId),
        seed: 2207,
      });
      const [kept, suspended] = await caller.activateMany({ count: 2, concurrency: 2 });
      expect([kept?.status, suspended?.status]).toEqual([200, 200]);
      const connections = mongo.db(ns.dbName).collection<ConnectionDocument>('connections');
      const stateOf = async (connectionId: string) =>
        (await connections.findOne({ connectionId }))?.state;
      for (const call of [kept!, suspended!])
        await expect.poll(() => stateOf(call.connectionId), { timeout: 20_000 }).toBe('accepted');

      // The operations service: its own user publishes the suspension, under the connection lock.
      const suspend = await fetch(
        `http://127.0.0.1:${opsPort}/ops/connections/${suspended!.connectionId}/suspend`,
        {
          method: 'POST',
          headers: {
            authorization: `Bearer ${OPERATOR_TOKEN}`,
            'content-type': 'application/json',
          },
          body: JSON.stringify({ reason: 'ACL test' }),
        },
      );
      expect(suspend.status).toBe(202);
      await expect
        .poll(() => stateOf(suspended!.connectionId), { timeout: 20_000 })
        .toBe('suspended');

      // The deprovision worker's user: the deactivation's clean-up and report, through the ledger.
      expect((await caller.deactivate(kept!.connectionId)).status).toBe(200);
      await expect
        .poll(
          async () => {
            const connection = await connections.findOne({ connectionId: kept!.connectionId });
            return [connection?.state, connection?.steps?.cleanup?.status];
          },
          { timeout: 20_000 },
        )
        .toEqual(['deactivated', 'done']);
      await caller.close();
      const ready = await fetch(`http://127.0.0.1:${opsPort}/ready`);
      expect(ready.status).toBe(200);
      // Bull Board reads both queues (counts, jobs, workers) with the operations service's user.
      const board = await fetch(`http://127.0.0.1:${opsPort}/ops/queues/api/queues?page=1`, {
        headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
      });
      expect(board.status).toBe(200);
      expect(((await board.json()) as { queues: unknown[] }).queues).toHaveLength(2);

      // Long enough for each worker's reconciler to have run at least once more.
      await new Promise((resolve) => setTimeout(resolve, 2500));
      expect(await aclDenials()).toEqual([]);
    } finally {
      for (const service of running.reverse()) await service.stop();
      await sim.stop();
      await mongo.db(ns.dbName).dropDatabase();
      await mongo.close();
    }
  });

  it("the ingress's user publishes (fsync checked), and can touch nothing else", async () => {
    await admin.call('ACL', 'LOG', 'RESET');
    const ledger = `${PREFIX}:call-outcome:lease-1`;
    const lock = `${PREFIX}:lock:connection:x`;
    const otherPrefix = `other-deployment:approval:1`;
    await admin.set(ledger, '{"status":200}');
    await admin.set(lock, 'holder');
    await admin.set(otherPrefix, 'theirs');

    const { logger } = capturingLogger('ingress');
    const connection = createProducerConnection(url('ingress'), logger);
    await connection.connect();
    const publisher = new JobPublisher({ connection, prefix: PREFIX, durability: 'fsync' });
    try {
      expect(await publisher.checkDurability()).toBe('sufficient');
      const job = {
        activation: new ActivationGenerator(22).next(),
        requestId: 'acl-test',
        receivedAt: new Date().toISOString(),
        token: { jti: 'acl-test', sub: 'acl-test' },
      };
      const jobId = jobIdFor.activationReceived(job);
      const published = await publisher.publish(JOB_NAMES.activationReceived, job, jobId);
      expect(published).toEqual({ jobId, queue: 'approval' });
      expect(await admin.exists(`${PREFIX}:approval:${jobId}`)).toBe(1);

      const refused = async (command: string, ...args: string[]) =>
        connection.call(command, ...args).then(
          () => `${command} ran`,
          (error: Error) => error.message.split(' ')[0],
        );
      expect(await refused('GET', ledger)).toBe('NOPERM');
      expect(await refused('DEL', ledger)).toBe('NOPERM');
      expect(await refused('GET', lock)).toBe('NOPERM');
      expect(await refused('DEL', lock)).toBe('NOPERM');
      expect(await refused('GET', otherPrefix)).toBe('NOPERM');
      expect(await refused('SET', `other-deployment:deprovision:1`, 'x')).toBe('NOPERM');
      expect(await refused('FLUSHALL')).toBe('NOPERM');
      expect(await refused('FLUSHDB')).toBe('NOPERM');
      expect(await refused('CONFIG', 'SET', 'appendfsync', 'no')).toBe('NOPERM');
      expect(await refused('KEYS', '*')).toBe('NOPERM');
      expect(await refused('SCAN', '0')).toBe('NOPERM');
      expect(await refused('ACL', 'SETUSER', 'ingress', '+@all')).toBe('NOPERM');
      // A script runs its commands under the same rules.
      expect(await refused('EVAL', "return redis.call('GET', KEYS[1])", '1', ledger)).toBe(
        'NOPERM',
      );
      expect(await admin.mget(ledger, lock, otherPrefix)).toEqual([
        '{"status":200}',
        'holder',
        'theirs',
      ]);
      const denials = await aclDenials();
      for (const expected of [`key ${ledger}`, `key ${lock}`, 'command flushall', 'command keys'])
        expect(denials).toContain(`ingress: ${expected}`);
      expect(denials.filter((denial) => !denial.startsWith('ingress: '))).toEqual([]);
    } finally {
      await publisher.close();
      connection.disconnect();
    }
  });

  it('a client that does not authenticate can do nothing; the health check can only PING', async () => {
    // What any client without a password is answered, in Redis's own protocol.
    const socket = connect(port, '127.0.0.1');
    socket.write('*2\r\n$3\r\nGET\r\n$1\r\nx\r\n');
    const [answer] = (await once(socket, 'data')) as [Buffer];
    socket.destroy();
    expect(answer.toString()).toMatch(/^-NOAUTH/);
    const health = new Redis(`redis://healthcheck:anything@127.0.0.1:${port}`, {
      enableReadyCheck: false,
    });
    try {
      expect(await health.ping()).toBe('PONG');
      await expect(health.get(`${PREFIX}:approval:id`)).rejects.toThrow(/NOPERM/);
    } finally {
      health.disconnect();
    }
  });
});
