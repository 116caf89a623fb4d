// The ingress when its dependencies misbehave: key rotation, the JWKS host down, no keys at all,
// Redis stopped, and a graceful stop with calls in flight.
import { randomUUID } from 'node:crypto';
import { afterEach, describe, expect, inject, it } from 'vitest';
import {
  ActivationGenerator,
  FortellisCaller,
  startSimulator,
  type Simulator,
} from '@fortellis-admin/simulator';
import {
  createTestNamespace,
  freePort,
  startControllableRedis,
  startLocalRedis,
  startService,
} from '@fortellis-admin/test-support';
import { startHarness, type Harness } from './ingress-harness.ts';

const generator = new ActivationGenerator(77);
const opened: Array<{ close?: () => Promise<void>; stop?: () => Promise<void> }> = [];
afterEach(async () => {
  for (const item of opened.splice(0).reverse()) await (item.close?.() ?? item.stop?.());
});

async function setUp(
  redisUrl = inject('redisUrl'),
  loadKeys = true,
  holdMs?: number,
  jwksCooldownMs?: number,
): Promise<{ sim: Simulator; h: Harness }> {
  const sim = await startSimulator();
  opened.push(sim);
  const h = await startHarness({
    redisUrl,
    sim,
    prefix: createTestNamespace('ingress-res').queuePrefix,
    loadKeys,
    ...(holdMs === undefined ? {} : { holdMs }),
    ...(jwksCooldownMs === undefined ? {} : { jwksCooldownMs }),
  });
  opened.push(h);
  return { sim, h };
}

const readyStatus = async (h: Harness) => (await fetch(`${h.monitoringUrl}/ready`)).status;

function activateWith(h: Harness, bearer: string) {
  return h.app.inject({
    method: 'POST',
    url: '/activate',
    headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' },
    payload: JSON.stringify(generator.next()),
  });
}

describe('signing keys', () => {
  it('key rotation mid-run keeps valid calls working with at most one extra JWKS fetch', async () => {
    const { sim, h } = await setUp();
    const sub = sim.providerClient.clientId;
    for (let i = 0; i < 5; i += 1)
      expect((await activateWith(h, sim.identity.mint(sub))).statusCode).toBe(200);
    const fetchesBefore = sim.count('jwks');
    sim.identity.rotateKeys({ keepOld: false });
    for (let i = 0; i < 20; i += 1)
      expect((await activateWith(h, sim.identity.mint(sub))).statusCode).toBe(200);
    expect(sim.count('jwks') - fetchesBefore).toBe(1);
  });

  it('unknown kids do not cause a JWKS fetch storm (one refresh per cooldown)', async () => {
    const { sim, h } = await setUp();
    const before = sim.count('jwks');
    for (let i = 0; i < 20; i += 1) {
      expect(
        (
          await activateWith(
            h,
            sim.identity.mint(sim.providerClient.clientId, { signing: 'unknown-key' }),
          )
        ).statusCode,
      ).toBe(403);
    }
    expect(sim.count('jwks') - before).toBeLessThanOrEqual(1);
  });

  it('keeps serving with the cached keys while the JWKS host is down', async () => {
    const { sim, h } = await setUp();
    sim.faults.add('jwks', { kind: 'status', status: 503 }, Infinity);
    expect(await h.keys.refresh()).toBe(false);
    expect((await activateWith(h, sim.identity.mint(sim.providerClient.clientId))).statusCode).toBe(
      200,
    );
    expect(await readyStatus(h)).toBe(200);
  });

  it('answers 503 while no key has ever been loaded, then 200 once the JWKS answers', async () => {
    const { sim, h } = await setUp(inject('redisUrl'), false, undefined, 300);
    sim.faults.add('jwks', { kind: 'status', status: 503 }, 1);
    const first = await activateWith(h, sim.identity.mint(sim.providerClient.clientId));
    expect(first.statusCode).toBe(503);
    expect(first.json()).toMatchObject({ code: 503, error: 'KEYS_UNAVAILABLE' });
    expect(await readyStatus(h)).toBe(503);
    // The next call past the cooldown fetches again, and the JWKS now answers.
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect((await activateWith(h, sim.identity.mint(sim.providerClient.clientId))).statusCode).toBe(
      200,
    );
    expect(await readyStatus(h)).toBe(200);
  });
});

describe('forged kids while no key is loaded', () => {
  /**
   * Sends forged tokens (each under a random kid, some with no kid at all) for at least `ms`, five
   * at a time; returns every answer's status and how long the flood lasted.
   */
  async function flood(
    h: Harness,
    sim: Simulator,
    ms: number,
  ): Promise<{ statuses: number[]; elapsedMs: number }> {
    const statuses: number[] = [];
    const started = performance.now();
    let n = 0;
    while (performance.now() < started + ms) {
      const batch = Array.from({ length: 5 }, () => {
        n += 1;
        const forged = sim.identity.mint(sim.providerClient.clientId, {
          signing: 'tampered-signature',
          header: { kid: n % 5 === 0 ? undefined : randomUUID() },
        });
        return activateWith(h, forged);
      });
      for (const response of await Promise.all(batch)) statuses.push(response.statusCode);
    }
    return { statuses, elapsedMs: performance.now() - started };
  }

  /** At most the first call's fetch, then one per cooldown elapsed; at least two over 1.6 s. */
  function expectBounded(fetches: number, elapsedMs: number, cooldownMs: number): void {
    expect(fetches).toBeGreaterThanOrEqual(2);
    expect(fetches).toBeLessThanOrEqual(Math.floor(elapsedMs / cooldownMs) + 1);
  }

  it('the first fetch failed: calls cause at most one JWKS fetch per cooldown', async () => {
    const { sim, h } = await setUp(inject('redisUrl'), false, undefined, 500);
    sim.faults.add('jwks', { kind: 'status', status: 503 }, Infinity);
    const { statuses, elapsedMs } = await flood(h, sim, 1600);
    expect(statuses.length).toBeGreaterThan(20);
    expect(new Set(statuses)).toEqual(new Set([503]));
    expectBounded(sim.count('jwks'), elapsedMs, 500);
    expect(await readyStatus(h)).toBe(503);
  });

  it('the JWKS is empty: the same bound, and the ingress is not ready', async () => {
    const { sim, h } = await setUp(inject('redisUrl'), false, undefined, 500);
    sim.faults.add('jwks', { kind: 'status', status: 200, body: '{"keys":[]}' }, Infinity);
    const { statuses, elapsedMs } = await flood(h, sim, 1600);
    expect(statuses.length).toBeGreaterThan(20);
    expect(new Set(statuses)).toEqual(new Set([503]));
    expectBounded(sim.count('jwks'), elapsedMs, 500);
    expect(h.keys.loaded).toBe(false);
    expect(await readyStatus(h)).toBe(503);
    // Once the JWKS has keys again, the next call past the cooldown loads them.
    sim.faults.clear('jwks');
    await new Promise((resolve) => setTimeout(resolve, 550));
    expect((await activateWith(h, sim.identity.mint(sim.providerClient.clientId))).statusCode).toBe(
      200,
    );
  });
});

describe('Redis unreachable', () => {
  it('answers 503 once the hold window has passed, and never 200, while Redis is stopped', async () => {
    const redis = await startLocalRedis();
    opened.push(redis);
    const { sim, h } = await setUp(redis.url, true, 1000);
    const bearer = sim.identity.mint(sim.providerClient.clientId);
    expect((await activateWith(h, bearer)).statusCode).toBe(200);
    await redis.stop();
    for (let i = 0; i < 5; i += 1) {
      const started = performance.now();
      const response = await activateWith(h, bearer);
      const elapsed = performance.now() - started;
      expect(response.statusCode).toBe(503);
      expect(response.json()).toMatchObject({ code: 503, error: 'QUEUE_UNAVAILABLE' });
      expect(elapsed).toBeGreaterThanOrEqual(900);
      expect(elapsed).toBeLessThan(2500);
    }
    expect(await readyStatus(h)).toBe(503);
  });

  it('stays ready while Redis has been away for less than the hold window, not past it', async () => {
    const redis = await startControllableRedis();
    opened.push(redis);
    const { h } = await setUp(redis.url, true, 3000);
    expect(await readyStatus(h)).toBe(200);
    // Stalled (SIGSTOP): the ping gets no answer, as in a failover's first seconds. Every replica
    // shares this Redis, so leaving the rotation would refuse calls the hold window would answer.
    redis.pause();
    try {
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(await readyStatus(h)).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 2600));
      expect(await readyStatus(h)).toBe(503);
    } finally {
      redis.resume();
    }
    await expect.poll(() => readyStatus(h)).toBe(200);
  });
});

describe('the ingress process', () => {
  it('finishes calls in flight on SIGTERM: every call is answered, and every 200 is a stored job', async () => {
    const sim = await startSimulator();
    opened.push(sim);
    const port = await freePort();
    const prefix = createTestNamespace('ingress-stop').queuePrefix;
    const service = await startService('ingress', {
      ...sim.env(),
      REDIS_URL: inject('redisUrl'),
      QUEUE_PREFIX: prefix,
      HOST: '127.0.0.1',
      PORT: String(port),
    });
    opened.push(service);
    const caller = new FortellisCaller({
      adminApiUrl: `http://127.0.0.1:${port}`,
      token: () => sim.identity.mint(sim.providerClient.clientId),
      seed: 5,
    });
    const calls = caller.activateMany({ count: 60, concurrency: 6 });
    await new Promise((resolve) => setTimeout(resolve, 50));
    const stopped = service.stop();
    const results = await calls;
    await stopped;
    await caller.close();
    expect(service.child.exitCode).toBe(0);
    const ok = results.filter((r) => r.status === 200).map((r) => r.connectionId);
    expect(ok.length).toBeGreaterThan(0);
    const { Queue } = await import('bullmq');
    const queue = new Queue('approval', { connection: { url: inject('redisUrl') }, prefix });
    const stored = new Set(
      (await queue.getJobs(['waiting'])).map(
        (job) => (job.data as { activation: { connectionId: string } }).activation.connectionId,
      ),
    );
    await queue.close();
    for (const connectionId of ok) expect(stored.has(connectionId)).toBe(true);
  });
});
