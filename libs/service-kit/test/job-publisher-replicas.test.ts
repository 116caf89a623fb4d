// The publisher with ACK_REPLICAS: a call is answered 200 only once its job is on enough replicas,
// against real primaries, replicas, Sentinels and a Cluster that stall, die and fail over.
import { setTimeout as delay } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import {
  JOB_NAMES,
  jobIdFor,
  QUEUE_OF_JOB,
  queueKeyPrefix,
  type ActivationReceivedJob,
  type JobName,
  type QueueName,
} from '@fortellis-admin/contracts';
import { ActivationGenerator } from '@fortellis-admin/simulator';
import {
  capturingLogger,
  createTestNamespace,
  startRedisCluster,
  startReplicatedRedis,
  type ControllableRedis,
} from '@fortellis-admin/test-support';
import {
  createRedisConnection,
  JobPublisher,
  type RedisSettings,
  type RedisTopology,
} from '@fortellis-admin/service-kit';

const generator = new ActivationGenerator(2024);
const opened: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of opened.splice(0).reverse()) await close();
});

async function publisherOn(
  topology: RedisTopology,
  options: { ackReplicas: number; holdMs: number },
) {
  const onCluster = topology.kind === 'cluster';
  const prefix = queueKeyPrefix(createTestNamespace('replicas').queuePrefix, onCluster);
  const settings: RedisSettings = { topology, tls: false, queuePrefix: prefix };
  const { logger, lines } = capturingLogger('ingress');
  const connection = createRedisConnection(settings, 'publisher', logger);
  await connection.connect();
  opened.push(async () => connection.disconnect());
  const publisher = new JobPublisher({ connection, prefix, logger, ...options });
  opened.push(() => publisher.close());
  return { publisher, prefix, logs: lines };
}

interface Call {
  jobId: string;
  queue: QueueName;
  /** The HTTP status the ingress would answer, and when (ms after the call). */
  settled: Promise<{ status: number; afterMs: number }>;
}

/** One call; `name` other than ActivationReceived carries an activation's shape (not validated). */
function publishOne(publisher: JobPublisher, name: JobName = JOB_NAMES.activationReceived): Call {
  const job: ActivationReceivedJob = {
    activation: generator.next(),
    requestId: `req-${Math.random()}`,
    receivedAt: new Date().toISOString(),
    token: { jti: 'test-jti', sub: 'test-client' },
  };
  const jobId = jobIdFor.activationReceived(job);
  const startedAt = performance.now();
  const answered = (status: number) => ({ status, afterMs: performance.now() - startedAt });
  const settled = publisher.publish(name, job as never, jobId).then(
    () => answered(200),
    (error: { httpStatus?: number }) => answered(error.httpStatus ?? 500),
  );
  return { jobId, queue: QUEUE_OF_JOB[name], settled };
}

async function warmUp(publisher: JobPublisher): Promise<void> {
  const answers: unknown[] = [];
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const answer = await publishOne(publisher).settled;
    if (answer.status === 200) return;
    answers.push(answer);
  }
  throw new Error(`the publisher never stored a job: ${JSON.stringify(answers)}`);
}

/** Whether `node` holds the call's job (asked directly, as a replica answers reads). */
async function holds(node: ControllableRedis, prefix: string, call: Call): Promise<boolean> {
  const client = new Redis(node.url, { maxRetriesPerRequest: 1 });
  try {
    // A Cluster replica answers reads only after READONLY; one Redis refuses the command.
    await client.call('READONLY').catch(() => undefined);
    return (await client.exists(`${prefix}:${call.queue}:${call.jobId}`)) === 1;
  } finally {
    client.disconnect();
  }
}

async function replicated(replicas: number, sentinels = 0) {
  const redis = await startReplicatedRedis({ replicas, sentinels });
  opened.push(() => redis.stop());
  const [primary, ...rest] = redis.nodes;
  if (primary === undefined) throw new Error('no primary');
  return { redis, primary, replicas: rest };
}

describe('ACK_REPLICAS with a primary and a replica', () => {
  it('answers 200 once the job is on the replica', async () => {
    const { primary, replicas } = await replicated(1);
    const { publisher, prefix } = await publisherOn(
      { kind: 'url', url: primary.url },
      { ackReplicas: 1, holdMs: 2000 },
    );
    const calls = Array.from({ length: 10 }, () => publishOne(publisher));
    const answers = await Promise.all(calls.map((call) => call.settled));
    expect(answers.map((answer) => answer.status)).toEqual(Array(10).fill(200));
    // No waiting here: the replica held each job before its 200.
    for (const call of calls) expect(await holds(replicas[0]!, prefix, call)).toBe(true);
  });

  it('holds calls while the replica stalls for less than the hold window, then answers 200', async () => {
    const { primary, replicas } = await replicated(1);
    const replica = replicas[0]!;
    const { publisher, prefix } = await publisherOn(
      { kind: 'url', url: primary.url },
      { ackReplicas: 1, holdMs: 3000 },
    );
    expect((await publishOne(publisher).settled).status).toBe(200);
    replica.pause();
    // One call stored before the publisher learns the replica stalled, more after it knows.
    const calls = [publishOne(publisher)];
    await delay(400);
    calls.push(...Array.from({ length: 5 }, () => publishOne(publisher)));
    await delay(800);
    replica.resume();
    const answers = await Promise.all(calls.map((call) => call.settled));
    expect(answers.map((answer) => answer.status)).toEqual(Array(6).fill(200));
    expect(answers[0]!.afterMs).toBeGreaterThan(1100);
    for (const call of calls) expect(await holds(replica, prefix, call)).toBe(true);
  });

  it('when the replica stays away past every bound: a stored job is refused as outcome unknown, a job not yet stored is refused and never stored', async () => {
    const { primary, replicas } = await replicated(1);
    const replica = replicas[0]!;
    const holdMs = 800;
    const { publisher, prefix, logs } = await publisherOn(
      { kind: 'url', url: primary.url },
      { ackReplicas: 1, holdMs },
    );
    // The first call also reads Redis's settings and clock: on a loaded machine, a short hold
    // window may pass first. Not what is tested here.
    await warmUp(publisher);
    replica.pause();
    const stored = publishOne(publisher);
    await delay(300);
    const unsent = publishOne(publisher);
    const [storedAnswer, unsentAnswer] = await Promise.all([stored.settled, unsent.settled]);
    // Not yet stored when the replicas were known to lag: refused at the hold window's end.
    expect(unsentAnswer.status).toBe(503);
    expect(unsentAnswer.afterMs).toBeLessThan(holdMs + 300);
    // Stored on the primary only: held to the unknown-outcome bound (6 hold windows), then refused
    // loudly, as it may take effect.
    expect(storedAnswer.status).toBe(503);
    expect(storedAnswer.afterMs).toBeGreaterThanOrEqual(holdMs * 6 - 50);
    expect(await holds(primary, prefix, stored)).toBe(true);
    expect(logs.join('\n')).toContain('publish outcome unknown');
    expect(logs.join('\n')).toContain(stored.jobId);
    replica.resume();
    await delay(300);
    expect(await holds(primary, prefix, unsent)).toBe(false);
    expect(await holds(replica, prefix, unsent)).toBe(false);
  });
});

/**
 * A primary with two stalled replicas stores a call's job; its WAIT cannot be answered. The
 * primary is then killed, one replica is promoted and the other follows it. With `lost`, the
 * primary first dropped its replicas' links, so the job never left it.
 */
async function killPrimaryBeforeWaitAnswers(options: { holdMs: number; lost: boolean }) {
  const { redis, primary, replicas } = await replicated(2, 3);
  const [first, second] = replicas as [ControllableRedis, ControllableRedis];
  const { publisher, prefix, logs } = await publisherOn(
    {
      kind: 'sentinel',
      sentinels: endpoints(redis.sentinelAddresses),
      masterName: redis.masterName,
    },
    { ackReplicas: 1, holdMs: options.holdMs },
  );
  await warmUp(publisher);
  first.pause();
  second.pause();
  if (options.lost) await command(primary, 'CLIENT', 'KILL', 'TYPE', 'replica');
  const call = publishOne(publisher);
  await delay(200);
  expect(await holds(primary, prefix, call)).toBe(true);
  await primary.kill();
  first.resume();
  const promoted = await redis.waitForFailover(primary.port, 20_000);
  // As Sentinel would, later: the replica that was stalled through the failover follows the new
  // primary (Sentinel converts a returning replica only some seconds after it answers again).
  second.resume();
  await command(second, 'REPLICAOF', '127.0.0.1', String(promoted.port));
  const answer = await call.settled;
  return { answer, onNewPrimary: await holds(promoted, prefix, call), logs, call };
}

describe("Redis's own min-replicas-to-write", () => {
  it('refuses writes while the replica is away (NOREPLICAS: nothing stored): held, answered 200 once it is back in the hold window, refused and never stored past it', async () => {
    const { primary, replicas } = await replicated(1);
    const replica = replicas[0]!;
    await command(primary, 'CONFIG', 'SET', 'min-replicas-to-write', '1');
    const { publisher, prefix } = await publisherOn(
      { kind: 'url', url: primary.url },
      { ackReplicas: 0, holdMs: 3000 },
    );
    await replica.kill();
    const back = publishOne(publisher);
    await delay(300);
    await replica.restart();
    const answer = await back.settled;
    expect(answer.status).toBe(200);
    // Held while Redis refused the write, not stored at once.
    expect(answer.afterMs).toBeGreaterThan(300);
    await replica.kill();
    const refused = publishOne(publisher);
    expect((await refused.settled).status).toBe(503);
    await replica.restart();
    await delay(500);
    expect(await holds(primary, prefix, refused)).toBe(false);
  });
});

describe('ACK_REPLICAS through a failover', () => {
  it('the primary is killed after the EXEC and before the WAIT answer, the promoted replica holds the job: answered 200', async () => {
    const { answer, onNewPrimary, logs } = await killPrimaryBeforeWaitAnswers({
      holdMs: 6000,
      lost: false,
    });
    // The promoted replica read the job from its socket once it ran again.
    expect(onNewPrimary).toBe(true);
    expect(answer.status, `${JSON.stringify(answer)} ${logs.join('')}`).toBe(200);
  });

  it('the job was lost with the primary and the hold window passed before the failover ended: refused, and not on the new primary', async () => {
    const { answer, onNewPrimary, logs, call } = await killPrimaryBeforeWaitAnswers({
      holdMs: 1500,
      lost: true,
    });
    expect(answer.status).toBe(503);
    expect(onNewPrimary).toBe(false);
    // Said loudly: a worker may have taken the job from the lost primary.
    const logged = logs.find((line) => line.includes(call.jobId)) ?? '';
    expect(logged).toContain('stored on a primary that was lost');
  });

  it('the job was lost with the primary within the hold window: sent again to the new primary, answered 200 once its replica holds it', async () => {
    const { answer, onNewPrimary } = await killPrimaryBeforeWaitAnswers({
      holdMs: 8000,
      lost: true,
    });
    expect(answer.status).toBe(200);
    expect(onNewPrimary).toBe(true);
  });
});

describe('ACK_REPLICAS when the primary stalls and is replaced', () => {
  it('a call sent to a stalled primary is sent again to the new primary and answered 200 once its replica holds the job', async () => {
    const { redis, primary, replicas } = await replicated(2, 3);
    const { publisher, prefix } = await publisherOn(
      {
        kind: 'sentinel',
        sentinels: endpoints(redis.sentinelAddresses),
        masterName: redis.masterName,
      },
      { ackReplicas: 1, holdMs: 8000 },
    );
    await warmUp(publisher);
    primary.pause();
    const call = publishOne(publisher);
    const promoted = await redis.waitForFailover(primary.port, 20_000);
    const answer = await call.settled;
    expect(answer.status).toBe(200);
    expect(await holds(promoted, prefix, call)).toBe(true);
    const follower = replicas.find((node) => node !== promoted)!;
    expect(await holds(follower, prefix, call)).toBe(true);
    // Resumed, the old primary runs what it was sent (its answer is never read) until Sentinel
    // turns it into a replica of the new one.
    primary.resume();
  });
});

describe('ACK_REPLICAS on a Redis Cluster', () => {
  it('publishes to every queue on a 3-primary cluster, answers 200 once each job is on its replica, and checks fsync on every primary', async () => {
    const cluster = await startRedisCluster({ primaries: 3, replicasPerPrimary: 1 });
    opened.push(() => cluster.stop());
    const { publisher, prefix } = await publisherOn(
      { kind: 'cluster', nodes: endpoints(cluster.seeds) },
      { ackReplicas: 1, holdMs: 3000 },
    );
    // Both queues in the same turns: two batches at once, each its own WATCH ... EXEC, WAIT.
    const calls = Array.from({ length: 20 }, (_, index) =>
      publishOne(
        publisher,
        index % 2 === 0 ? JOB_NAMES.activationReceived : JOB_NAMES.deactivationReceived,
      ),
    );
    const answers = await Promise.all(calls.map((call) => call.settled));
    expect(answers.map((answer) => answer.status)).toEqual(Array(20).fill(200));
    const owner = await cluster.primaryOfKey(`${prefix}:x`);
    const replica = await replicaOf(owner, cluster.nodes);
    for (const call of calls) {
      expect(await holds(owner, prefix, call)).toBe(true);
      expect(await holds(replica, prefix, call)).toBe(true);
    }
    // And without replicas to wait for, on the same Cluster.
    const { publisher: plain, prefix: plainPrefix } = await publisherOn(
      { kind: 'cluster', nodes: endpoints(cluster.seeds) },
      { ackReplicas: 0, holdMs: 3000 },
    );
    const more = [publishOne(plain), publishOne(plain, JOB_NAMES.deactivationReceived)];
    for (const call of more) {
      expect((await call.settled).status).toBe(200);
      expect(await holds(await cluster.primaryOfKey(`${plainPrefix}:x`), plainPrefix, call)).toBe(
        true,
      );
    }
    // The fsync check asks every primary, not the one a keyless CONFIG GET would reach.
    const others = await Promise.all(
      cluster.nodes.map(async (node) => ((await roleOf(node)) === 'master' ? node : undefined)),
    );
    const lax = others.find((node) => node !== undefined && node !== owner)!;
    await command(lax, 'CONFIG', 'SET', 'appendfsync', 'everysec');
    const { publisher: checked } = await publisherOn(
      { kind: 'cluster', nodes: endpoints(cluster.seeds) },
      { ackReplicas: 1, holdMs: 3000 },
    );
    expect(await checked.checkDurability()).toBe('insufficient');
  });
});

/** Sends one command to a node. */
async function command(node: ControllableRedis, ...args: string[]): Promise<unknown> {
  const client = new Redis(node.url, { maxRetriesPerRequest: 1 });
  try {
    return await client.call(args[0]!, ...args.slice(1));
  } finally {
    client.disconnect();
  }
}

function endpoints(list: string): { host: string; port: number }[] {
  return list.split(',').map((address) => {
    const [host, port] = address.split(':');
    return { host: host ?? '127.0.0.1', port: Number(port) };
  });
}

async function roleOf(node: ControllableRedis): Promise<string> {
  const info = String(await command(node, 'INFO', 'replication'));
  return /role:(\w+)/.exec(info)?.[1] ?? 'unknown';
}

/** The node that replicates `primary` (asked of each node's INFO). */
async function replicaOf(
  primary: ControllableRedis,
  nodes: readonly ControllableRedis[],
): Promise<ControllableRedis> {
  for (const node of nodes) {
    if (node === primary) continue;
    const client = new Redis(node.url, { maxRetriesPerRequest: 1 });
    try {
      const info = await client.info('replication');
      if (info.includes(`master_port:${primary.port}`)) return node;
    } finally {
      client.disconnect();
    }
  }
  throw new Error(`no replica of ${primary.port}`);
}
