// The ingress's acknowledgement against a Redis that stalls, dies and comes back: a publish resolves
// only once its job is stored durably, outages shorter than the hold window are ridden out, and a
// publish that is refused is never stored later.
import { setTimeout as delay } from 'node:timers/promises';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, it } from 'vitest';
import { JOB_NAMES, jobIdFor, type ActivationReceivedJob } from '@fortellis-admin/contracts';
import { ActivationGenerator } from '@fortellis-admin/simulator';
import {
  capturingLogger,
  createTestNamespace,
  startControllableRedis,
  type ControllableRedis,
} from '@fortellis-admin/test-support';
import {
  createProducerConnection,
  JobPublisher,
  type AckDurability,
} from '@fortellis-admin/service-kit';

const generator = new ActivationGenerator(314);
const opened: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of opened.splice(0).reverse()) await close();
});

async function setUp(options: { holdMs: number; durability?: AckDurability }) {
  const redis = await startControllableRedis();
  opened.push(() => redis.stop());
  const prefix = createTestNamespace('ack').queuePrefix;
  const { logger, lines } = capturingLogger('ingress');
  const connection = createProducerConnection(redis.url, logger);
  await connection.connect();
  opened.push(async () => connection.disconnect());
  const publisher = new JobPublisher({
    connection,
    prefix,
    holdMs: options.holdMs,
    durability: options.durability ?? 'fsync',
    logger,
  });
  opened.push(() => publisher.close());
  const inspect = async (): Promise<Set<string>> => {
    const client = new Redis(redis.url, { maxRetriesPerRequest: 3 });
    const queue = new Queue('approval', { connection: client, prefix });
    try {
      const jobs = await queue.getJobs(['waiting', 'active', 'delayed', 'completed', 'failed']);
      return new Set(jobs.map((job) => job.id ?? ''));
    } finally {
      await queue.close();
      client.disconnect();
    }
  };
  return { redis, publisher, inspect, logs: lines };
}

function publishOne(publisher: JobPublisher): { jobId: string; settled: Promise<number> } {
  const job: ActivationReceivedJob = {
    activation: generator.next(),
    requestId: `req-${Math.random()}`,
    receivedAt: new Date().toISOString(),
    token: { jti: 'test-jti', sub: 'test-client' },
  };
  const jobId = jobIdFor.activationReceived(job);
  const settled = publisher.publish(JOB_NAMES.activationReceived, job, jobId).then(
    () => 200,
    (error: { httpStatus?: number }) => error.httpStatus ?? 500,
  );
  return { jobId, settled };
}

async function stalled(redis: ControllableRedis, ms: number): Promise<void> {
  redis.pause();
  await delay(ms);
  redis.resume();
}

describe('acknowledgements when Redis stalls', () => {
  it('when Redis stalls for less than the hold window, every publish is answered 200 once it runs again, and stored', async () => {
    const { redis, publisher, inspect } = await setUp({ holdMs: 6000 });
    expect(await publishOne(publisher).settled).toBe(200);
    const stall = stalled(redis, 2000);
    const calls = Array.from({ length: 20 }, () => publishOne(publisher));
    const answers = await Promise.all(calls.map((call) => call.settled));
    await stall;
    expect(answers).toEqual(Array(20).fill(200));
    const stored = await inspect();
    for (const call of calls) expect(stored.has(call.jobId)).toBe(true);
  });

  it('when Redis stalls past the hold window, the publishes are refused with 503 and never stored afterwards', async () => {
    const { redis, publisher, inspect } = await setUp({ holdMs: 1500 });
    expect(await publishOne(publisher).settled).toBe(200);
    redis.pause();
    const calls = Array.from({ length: 20 }, () => publishOne(publisher));
    const answers = await Promise.all(calls.map((call) => call.settled));
    expect(answers).toEqual(Array(20).fill(503));
    await delay(1500);
    redis.resume();
    // Redis now works off the transactions that were on the wire: each meets its fence.
    await delay(500);
    const stored = await inspect();
    for (const call of calls) expect(stored.has(call.jobId)).toBe(false);
  });
});

describe('acknowledgements when Redis dies', () => {
  it('when Redis is killed and restarted within the hold window, publishes meanwhile are answered 200 and everything acknowledged survives', async () => {
    const { redis, publisher, inspect } = await setUp({ holdMs: 8000 });
    const before = Array.from({ length: 10 }, () => publishOne(publisher));
    expect(await Promise.all(before.map((call) => call.settled))).toEqual(Array(10).fill(200));
    for (let round = 0; round < 3; round += 1) {
      await redis.kill();
      const during = Array.from({ length: 5 }, () => publishOne(publisher));
      await delay(700);
      await redis.restart();
      expect(await Promise.all(during.map((call) => call.settled))).toEqual(Array(5).fill(200));
      before.push(...during);
    }
    const stored = await inspect();
    for (const call of before) expect(stored.has(call.jobId)).toBe(true);
  });

  it('when Redis stays down past the hold window, publishes are refused with 503 and nothing is stored', async () => {
    const { redis, publisher, inspect } = await setUp({ holdMs: 1000 });
    await redis.kill();
    const calls = Array.from({ length: 5 }, () => publishOne(publisher));
    expect(await Promise.all(calls.map((call) => call.settled))).toEqual(Array(5).fill(503));
    await redis.restart();
    await delay(300);
    const stored = await inspect();
    for (const call of calls) expect(stored.has(call.jobId)).toBe(false);
  });
});

describe('durability of what Redis acknowledges', () => {
  it('when Redis does not fsync each write, publishes are refused and nothing is stored', async () => {
    const { redis, publisher, inspect, logs } = await setUp({ holdMs: 2000 });
    const admin = new Redis(redis.url);
    await admin.config('SET', 'appendfsync', 'everysec');
    // Nothing was published yet: the publisher asks Redis on its first publish.
    admin.disconnect();
    const call = publishOne(publisher);
    expect(await call.settled).toBe(503);
    expect(await publisher.checkDurability()).toBe('insufficient');
    expect((await inspect()).has(call.jobId)).toBe(false);
    expect(logs.join('\n')).toContain('Redis does not persist each write');
  });

  it('with durability none, a Redis without fsync is accepted', async () => {
    const { redis, publisher, inspect } = await setUp({ holdMs: 2000, durability: 'none' });
    const admin = new Redis(redis.url);
    await admin.config('SET', 'appendfsync', 'everysec');
    admin.disconnect();
    const call = publishOne(publisher);
    expect(await call.settled).toBe(200);
    expect((await inspect()).has(call.jobId)).toBe(true);
  });
});
