// The highly available Redis of deploy/compose/ha.yml, run here from the shipped files on real
// redis-server processes: the data nodes with the command ha.yml gives them (the ACL users of
// users.acl and replication.acl, masteruser/masterauth, min-replicas-to-write) and three Sentinels
// from deploy/redis/sentinel.conf, all rendered by deploy/redis/render-ha.sh with this run's
// passwords; only the addresses become loopback ports. The replica must sync as user `replica`,
// the Sentinels must reach quorum with their own password and watch the nodes as user `failover`,
// the ingress (its config loader on ha.yml's settings, its connection and publisher, ACK_REPLICAS=1)
// must publish through them as its own user, hold a publish while the replica is paused, and go
// on publishing, unrestarted, after a failover that leaves the old primary replicating from the
// new one: all without one command refused by the ACL.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { Redis } from 'ioredis';
import { JOB_NAMES, jobIdFor } from '@fortellis-admin/contracts';
import { createProducerConnection, JobPublisher } from '@fortellis-admin/service-kit';
import { ActivationGenerator } from '@fortellis-admin/simulator';
import {
  REPO_ROOT,
  capturingLogger,
  findBinary,
  freePort,
  startProcess,
  waitForPort,
  type ManagedProcess,
} from '@fortellis-admin/test-support';
import { loadIngressConfig } from '../../services/ingress/src/config.ts';

const MASTER = 'fortellis-admin';
const USERS = [
  'admin',
  'ingress',
  'operations',
  'approval-worker',
  'deprovision-worker',
  'replica',
  'failover',
] as const;
const variable = (user: string) => `REDIS_${user.toUpperCase().replaceAll('-', '_')}_PASSWORD`;
const passwords: Record<string, string> = Object.fromEntries(
  [...USERS, 'sentinel'].map((user) => [variable(user), randomBytes(16).toString('hex')]),
);
const password = (user: string): string => passwords[variable(user)]!;

interface HaCompose {
  services: Record<string, { command: string[]; environment?: Record<string, string> }>;
}
const ha = parse(readFileSync(`${REPO_ROOT}deploy/compose/ha.yml`, 'utf8'), {
  merge: true,
  logLevel: 'error',
}) as HaCompose;

/** render-ha.sh as the containers run it, with this run's passwords, into `dir`. */
function render(mode: 'node' | 'sentinel', dir: string): void {
  mkdirSync(dir, { recursive: true });
  execFileSync('sh', ['deploy/redis/render-ha.sh', mode, dir], {
    cwd: REPO_ROOT,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...passwords },
  });
}

/**
 * A data node's redis-server arguments from its command in ha.yml: what follows `redis-server` in
 * the script (the rendered files in `dir`) and the node's own arguments, with `redis` as the
 * loopback address and port of this run.
 */
function nodeArgs(service: string, dir: string, primaryPort: number): string[] {
  const [, , script, , ...own] = ha.services[service]!.command;
  const shipped = script!.slice(script!.indexOf('redis-server ') + 'redis-server '.length);
  const args = shipped
    .replaceAll('/run/redis-acl', dir)
    .split(/\s+/)
    .filter((arg) => arg !== '"$$@"');
  const ownArgs = own
    .join(' ')
    .replace(/--replicaof redis 6379/, `--replicaof 127.0.0.1 ${primaryPort}`);
  return [...args, ...ownArgs.replace(/--replica-announce-ip \S+/, '').split(/\s+/)].filter(
    (arg) => arg !== '',
  );
}

/**
 * The ingress's environment as ha.yml gives it, with this run's passwords and the Sentinels at this
 * run's ports; and what the ingress requires that is not about Redis.
 */
function ingressEnv(): Record<string, string> {
  const env: Record<string, string> = {
    FORTELLIS_ISSUER: 'https://issuer.example',
    FORTELLIS_CLIENT_ID: 'ha-test',
  };
  for (const [name, value] of Object.entries(ha.services.ingress!.environment!)) {
    if (!name.startsWith('REDIS_') && name !== 'ACK_REPLICAS') continue;
    if (name === 'REDIS_URL') continue; // removed by ha.yml (!reset)
    env[name] = value.replace(/\$\{([A-Z_]+):\?[^}]*\}/g, (_all, key: string) => passwords[key]!);
  }
  env.REDIS_SENTINELS = ports.sentinels.map((port) => `127.0.0.1:${port}`).join(',');
  return env;
}

const binary = findBinary('redis-server');
let dir: string;
const processes: ManagedProcess[] = [];
const nodes = new Map<string, ManagedProcess>();
const clients: Redis[] = [];
const ports: { primary: number; replica: number; sentinels: number[] } = {
  primary: 0,
  replica: 0,
  sentinels: [],
};

const admin = (port: number): Redis => {
  const client = new Redis({
    port,
    host: '127.0.0.1',
    username: 'admin',
    password: password('admin'),
  });
  clients.push(client);
  return client;
};
const sentinel = (port: number): Redis => {
  const client = new Redis({ port, host: '127.0.0.1', password: password('sentinel') });
  clients.push(client);
  return client;
};
const info = async (client: Redis, field: string): Promise<string | undefined> =>
  new RegExp(`^${field}:(.*)\\r?$`, 'm').exec(await client.info('replication'))?.[1]?.trim();

async function startNode(service: string, port: number): Promise<void> {
  const files = join(dir, service);
  render('node', files);
  const args = [
    ...nodeArgs(service, files, ports.primary),
    ...['--port', String(port), '--bind', '127.0.0.1', '--dir', files, '--save', ''],
    ...['--replica-announce-ip', '127.0.0.1'],
  ];
  const node = startProcess(binary!, args);
  processes.push(node);
  nodes.set(service, node);
  await waitForPort(port, 20_000, node.child);
}

async function startSentinel(index: number): Promise<void> {
  const files = join(dir, `sentinel-${index}`);
  render('sentinel', files);
  const config = join(files, 'sentinel.conf');
  const text = readFileSync(config, 'utf8')
    .replace(/^port 26379$/m, `port ${ports.sentinels[index]}\nbind 127.0.0.1`)
    .replace(/^(sentinel monitor \S+) redis 6379 /m, `$1 127.0.0.1 ${ports.primary} `);
  writeFileSync(config, text, { mode: 0o600 });
  const process_ = startProcess(binary!, [config, '--sentinel']);
  processes.push(process_);
  await waitForPort(ports.sentinels[index]!, 20_000, process_.child);
}

beforeAll(async () => {
  if (binary === undefined) throw new Error('redis-server is not installed');
  dir = await mkdtemp(join(tmpdir(), 'redis-ha-'));
  ports.primary = await freePort();
  ports.replica = await freePort();
  ports.sentinels = [await freePort(), await freePort(), await freePort()];
  await startNode('redis', ports.primary);
  await startNode('redis-replica', ports.replica);
  for (const index of [0, 1, 2]) await startSentinel(index);
}, 60_000);

afterAll(async () => {
  for (const client of clients) client.disconnect();
  await Promise.all(processes.map((running) => running.stop()));
  if (dir !== undefined) await rm(dir, { recursive: true, force: true });
});

/** The Sentinels: their own password required, each other found, quorum 2 of 3, the replica seen. */
async function expectSentinelsReady(): Promise<Redis[]> {
  const anonymous = new Redis({
    port: ports.sentinels[0]!,
    host: '127.0.0.1',
    lazyConnect: true,
    // One try: its refusal is the point, not something to retry.
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  });
  const refusals: string[] = [];
  anonymous.on('error', (error: Error) => refusals.push(error.message));
  await expect(anonymous.call('SENTINEL', 'CKQUORUM', MASTER)).rejects.toThrow(/NOAUTH/);
  anonymous.disconnect();
  for (const refusal of refusals) expect(refusal).toMatch(/NOAUTH/);
  const sentinels = ports.sentinels.map(sentinel);
  for (const client of sentinels) {
    await expect
      .poll(() => client.call('SENTINEL', 'CKQUORUM', MASTER), { timeout: 30_000 })
      .toMatch(/^OK 3 usable Sentinels/);
    const master = (await client.call('SENTINEL', 'MASTER', MASTER)) as string[];
    expect(master[master.indexOf('quorum') + 1]).toBe('2');
    await expect
      .poll(async () => ((await client.call('SENTINEL', 'REPLICAS', MASTER)) as unknown[]).length, {
        timeout: 20_000,
      })
      .toBe(1);
  }
  return sentinels;
}

/**
 * The ingress as ha.yml configures it (the Sentinels at this run's ports), through its own config
 * loader, connection and publisher: a job acknowledged only once the replica holds it
 * (ACK_REPLICAS=1), as the ingress's user, whose rules must allow all of it. Returns a publish of
 * one activation that resolves to its job's key.
 */
function ingressPublisher(): (seed: number) => Promise<string> {
  const config = loadIngressConfig(ingressEnv());
  expect(config.acknowledgement.replicas).toBe(1);
  const connection = createProducerConnection(config.redis, capturingLogger('ingress').logger);
  clients.push(connection as Redis);
  const publisher = new JobPublisher({
    connection,
    prefix: config.redis.queuePrefix,
    durability: 'fsync',
    ackReplicas: config.acknowledgement.replicas,
  });
  return async (seed: number): Promise<string> => {
    const job = {
      activation: new ActivationGenerator(seed).next(),
      requestId: `ha-${seed}`,
      receivedAt: new Date().toISOString(),
      token: { jti: `ha-${seed}`, sub: 'ha' },
    };
    const jobId = jobIdFor.activationReceived(job);
    await publisher.publish(JOB_NAMES.activationReceived, job, jobId);
    return `${config.redis.queuePrefix}:approval:${jobId}`;
  };
}

describe('the highly available Redis of deploy/compose/ha.yml, from the shipped files', () => {
  it(
    'the replica syncs, the Sentinels reach quorum, a service finds the primary, and a failover completes, with no command refused',
    { timeout: 90_000 },
    async () => {
      const primary = admin(ports.primary);
      const replica = admin(ports.replica);
      await expect.poll(() => info(replica, 'master_link_status'), { timeout: 20_000 }).toBe('up');
      expect(await primary.config('GET', 'min-replicas-to-write')).toEqual([
        'min-replicas-to-write',
        '1',
      ]);
      expect(await replica.config('GET', 'min-replicas-to-write')).toEqual([
        'min-replicas-to-write',
        '1',
      ]);

      const sentinels = await expectSentinelsReady();
      const publish = ingressPublisher();
      const first = await publish(1);
      expect(await replica.exists(first)).toBe(1);
      // The replica paused: a publish is held, unanswered, until the replica holds its job again;
      // the rounds that confirm it write the replicas' mark, again as the ingress's user.
      const replicaProcess = nodes.get('redis-replica')!;
      replicaProcess.child.kill('SIGSTOP');
      const held = publish(3);
      try {
        const early = await Promise.race([held.then(() => 'answered'), delay(1500, 'held')]);
        expect(early).toBe('held');
      } finally {
        replicaProcess.child.kill('SIGCONT');
      }
      expect(await replica.exists(await held)).toBe(1);

      // A failover: the replica is promoted, the old primary replicates from it (the Sentinels made
      // it so as user `failover`; it authenticates as user `replica`).
      await sentinels[0]!.call('SENTINEL', 'FAILOVER', MASTER);
      await expect
        .poll(() => sentinels[1]!.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', MASTER), {
          timeout: 30_000,
        })
        .toEqual(['127.0.0.1', String(ports.replica)]);
      await expect.poll(() => info(replica, 'role'), { timeout: 20_000 }).toBe('master');
      await expect.poll(() => info(primary, 'master_link_status'), { timeout: 30_000 }).toBe('up');
      // The same publisher, unrestarted, now on the new primary; the old one holds the job.
      const second = await publish(2);
      expect(await primary.exists(second)).toBe(1);
      expect(await replica.exists(first)).toBe(1);

      // Nothing any user did was refused by the ACL (ACL LOG lists every refusal).
      for (const node of [primary, replica]) expect(await node.call('ACL', 'LOG')).toEqual([]);
    },
  );
});
