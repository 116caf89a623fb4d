// The operations listener's browser login and Bull Board: the token is typed into a form and
// becomes a signed, HttpOnly, SameSite=Strict session cookie; the board lists every queue and its
// actions work with that session, except those that would drop or forge acknowledged work.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { Queue, Worker } from 'bullmq';
import { JOB_NAMES, QUEUE_NAMES } from '@fortellis-admin/contracts';
import { ConnectionRepository } from '@fortellis-admin/connection-store';
import { capturingLogger, createTestNamespace } from '@fortellis-admin/test-support';
import { ActivationGenerator } from '@fortellis-admin/simulator';
import { buildApp } from '../src/app.ts';
import { JobPublisher } from '@fortellis-admin/service-kit';
import { QUEUE_BOARD_PATH, refusedBoardAction } from '../src/domain/queue-board-actions.ts';
import type { OperatorToken } from '../src/domain/operator-roles.ts';
import { safeLanding } from '../src/entry-points/login-page.ts';
import { SESSION_COOKIE } from '../src/entry-points/login-routes.ts';
import {
  LOGIN_ATTEMPTS_PER_MINUTE,
  LOGIN_FAILURES_BEFORE_LOCKOUT,
  type LoginThrottleStore,
} from '../src/entry-points/login-throttle.ts';
import { createOperationsMetrics } from '../src/operations-metrics.ts';

const ns = createTestNamespace('ops-session');
const ALICE = 'alice-admin-Qm7vT2xK9pLw4Rz8Nb3Hc6Jd';
const BOB = 'bob-admin-5Fg1Ys0aUe2Wq8Ti4Ok7PlMn';
const tokens: OperatorToken[] = [
  { name: 'alice', role: 'admin', token: ALICE },
  { name: 'bob', role: 'admin', token: BOB },
];
let now = Date.parse('2026-11-23T12:00:00Z');
const clock = { now: () => new Date(now) };
let mongo: MongoClient;
let redis: Redis;
let publisher: JobPublisher;
let app: FastifyInstance;
const log = capturingLogger('operations');

async function build(
  withTokens = tokens,
  trustProxy?: boolean,
  loginThrottleStore?: LoginThrottleStore,
): Promise<FastifyInstance> {
  return buildApp({
    ...(trustProxy === undefined ? {} : { trustProxy }),
    ...(loginThrottleStore === undefined ? {} : { loginThrottleStore }),
    logger: log.logger,
    metrics: createOperationsMetrics(),
    readiness: {},
    tokens: withTokens,
    repo: ConnectionRepository.locked(mongo.db(ns.dbName), redis, ns.queuePrefix),
    publisher,
    queues: publisher.queues,
    clock,
  });
}

beforeAll(async () => {
  mongo = new MongoClient(inject('mongoUrl'));
  await mongo.connect();
  redis = new Redis(inject('redisUrl'));
  publisher = new JobPublisher({ connection: redis, prefix: ns.queuePrefix });
  app = await build();
});

afterAll(async () => {
  await app.close();
  await publisher.close();
  await mongo.db(ns.dbName).dropDatabase();
  await mongo.close();
  redis.disconnect();
});

const login = (token: string, next = '/ops/queues', target = app) =>
  target.inject({
    method: 'POST',
    url: '/ops/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ token, next }).toString(),
  });

function sessionOf(response: LightMyRequestResponse): string {
  const cookie = response.cookies.find((entry) => entry.name === SESSION_COOKIE);
  if (cookie === undefined) throw new Error('no session cookie was set');
  return cookie.value;
}

const withSession = (session: string, extra: Record<string, string> = {}) => ({
  cookie: `${SESSION_COOKIE}=${session}`,
  ...extra,
});

describe('browser login', () => {
  it('a browser without a session gets the login form with 401, not the board', async () => {
    const response = await app.inject({
      method: 'GET',
      url: '/ops/queues',
      headers: { accept: 'text/html' },
    });
    expect(response.statusCode).toBe(401);
    expect(response.headers['content-type']).toContain('text/html');
    expect(response.body).toContain('<form method="post" action="/ops/login">');
    expect(response.body).toContain('name="next" value="/ops/queues"');
    expect(response.headers['content-security-policy']).toContain("form-action 'self'");
  });

  it('an API client without a token still gets 401 {code, message} on the board API', async () => {
    const response = await app.inject({ method: 'GET', url: '/ops/queues/api/queues' });
    expect(response.statusCode).toBe(401);
    expect(response.json()).toMatchObject({ code: 401, error: 'AUTHENTICATION_FAILED' });
  });

  it('a wrong token gets the form again with 403 and no cookie', async () => {
    const response = await login('not-the-token-0123456789abcdef');
    expect(response.statusCode).toBe(403);
    expect(response.body).toContain('not a valid operator token');
    expect(response.cookies).toHaveLength(0);
    const empty = await app.inject({
      method: 'POST',
      url: '/ops/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: '',
    });
    expect(empty.statusCode).toBe(403);
  });

  it('the right token sets an HttpOnly SameSite=Strict cookie and redirects, token nowhere in the URL', async () => {
    const response = await login(ALICE, '/ops/queues/queue/approval');
    expect(response.statusCode).toBe(303);
    expect(response.headers.location).toBe('/ops/queues/queue/approval');
    const cookie = response.cookies.find((entry) => entry.name === SESSION_COOKIE);
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/ops' });
    expect(cookie!.value).not.toContain(ALICE);
    expect(response.headers.location).not.toContain(ALICE);
    expect(log.lines.join('\n')).not.toContain(ALICE);
    expect(log.lines.some((line) => line.includes('"event":"operator_login"'))).toBe(true);
  });

  it.each([
    ['https://evil.example/ops/queues', '/ops/queues'],
    ['//evil.example/ops', '/ops/queues'],
    ['/ops/login', '/ops/queues'],
    ['/\\evil.example', '/ops/queues'],
    ['/ops/connections?state=failed', '/ops/connections?state=failed'],
  ])('after login, next=%s leads to %s', (next, landing) => {
    expect(safeLanding(next)).toBe(landing);
  });

  it('the session opens the board page, its API and the operations API', async () => {
    const session = sessionOf(await login(BOB));
    const page = await app.inject({
      method: 'GET',
      url: '/ops/queues',
      headers: withSession(session, { accept: 'text/html' }),
    });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('<div id="root">');
    const queues = await app.inject({
      method: 'GET',
      url: '/ops/queues/api/queues?activeQueue=&status=latest&page=1',
      headers: withSession(session),
    });
    expect(queues.statusCode).toBe(200);
    expect(
      queues
        .json<{ queues: { name: string }[] }>()
        .queues.map((queue) => queue.name)
        .sort(),
    ).toEqual(Object.values(QUEUE_NAMES).sort());
    const connections = await app.inject({
      method: 'GET',
      url: '/ops/connections',
      headers: withSession(session),
    });
    expect(connections.statusCode).toBe(200);
  });

  it('a tampered, expired or revoked session is refused with 403', async () => {
    const session = sessionOf(await login(ALICE));
    const [payload, signature] = session.split('.');
    const forged = `${Buffer.from('bob|99999999999999').toString('base64url')}.${signature}`;
    for (const bad of [forged, `${payload}.${'A'.repeat(43)}`, 'garbage', `${payload}`]) {
      const response = await app.inject({
        method: 'GET',
        url: '/ops/connections',
        headers: withSession(bad),
      });
      expect(response.statusCode).toBe(403);
      expect(response.json()).toMatchObject({ code: 403 });
    }
    // Alice's token rotated out: her sessions end with it.
    const withoutAlice = await build([{ name: 'bob', role: 'admin', token: BOB }]);
    const revoked = await withoutAlice.inject({
      method: 'GET',
      url: '/ops/connections',
      headers: withSession(session),
    });
    await withoutAlice.close();
    expect(revoked.statusCode).toBe(403);
    // Nine hours later the session has expired; the browser is sent to the login form.
    now += 9 * 60 * 60 * 1000;
    const expired = await app.inject({
      method: 'GET',
      url: '/ops/queues',
      headers: withSession(session, { accept: 'text/html' }),
    });
    now -= 9 * 60 * 60 * 1000;
    expect(expired.statusCode).toBe(403);
    expect(expired.body).toContain('expired');
  });

  it('rotating a token out ends its sessions, even when the new token has the same name', async () => {
    const OLD = 'carol-old-token-0123456789abcdef';
    const NEW = 'carol-new-token-0123456789abcdef';
    const both = await build([
      { name: 'carol', role: 'admin', token: NEW },
      { name: 'carol', role: 'admin', token: OLD },
    ]);
    const oldSession = sessionOf(await login(OLD, '/ops/queues', both));
    const newSession = sessionOf(await login(NEW, '/ops/queues', both));
    await both.close();
    const rotated = await build([{ name: 'carol', role: 'admin', token: NEW }]);
    try {
      const asOld = await rotated.inject({
        method: 'GET',
        url: '/ops/connections',
        headers: withSession(oldSession),
      });
      expect(asOld.statusCode).toBe(403);
      const asNew = await rotated.inject({
        method: 'GET',
        url: '/ops/connections',
        headers: withSession(newSession),
      });
      expect(asNew.statusCode).toBe(200);
    } finally {
      await rotated.close();
    }
  });

  it('logging out clears the cookie', async () => {
    const response = await app.inject({ method: 'POST', url: '/ops/logout' });
    expect(response.statusCode).toBe(303);
    expect(response.headers.location).toBe('/ops/login');
    const cleared = response.cookies.find((entry) => entry.name === SESSION_COOKIE);
    expect(cleared?.value).toBe('');
  });
});

describe('the listener behind a proxy, and what every answer carries', () => {
  it('with TRUST_PROXY, a login over https at the proxy gets a Secure cookie; without it, X-Forwarded-Proto is not believed', async () => {
    const behindTls = await build(tokens, true);
    try {
      for (const [target, secure] of [
        [behindTls, true],
        [app, false],
      ] as const) {
        const response = await target.inject({
          method: 'POST',
          url: '/ops/login',
          headers: {
            'content-type': 'application/x-www-form-urlencoded',
            'x-forwarded-proto': 'https',
          },
          payload: new URLSearchParams({ token: ALICE, next: '/ops/queues' }).toString(),
        });
        const cookie = response.cookies.find((entry) => entry.name === SESSION_COOKIE);
        expect(cookie?.secure === true).toBe(secure);
      }
    } finally {
      await behindTls.close();
    }
  });

  it("sends the security headers on the login form and on Bull Board's page", async () => {
    const session = sessionOf(await login(ALICE));
    for (const response of [
      await app.inject({ method: 'GET', url: '/ops/login' }),
      await app.inject({
        method: 'GET',
        url: `${QUEUE_BOARD_PATH}/`,
        headers: withSession(session),
      }),
    ]) {
      expect(response.statusCode).toBe(200);
      expect(response.headers['x-frame-options']).toBe('DENY');
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers['content-security-policy']).toContain("frame-ancestors 'none'");
      expect(response.headers['content-security-policy']).toContain("script-src 'self'");
    }
  });

  it("logs one line per request, with the operator's name and never the token", async () => {
    log.lines.length = 0;
    const session = sessionOf(await login(ALICE));
    await app.inject({ method: 'GET', url: '/ops/connections', headers: withSession(session) });
    const lines = log.lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const completed = lines.filter((line) => line.msg === 'request completed');
    expect(completed.map((line) => [line.route, line.statusCode])).toEqual([
      ['/ops/login', 303],
      ['/ops/connections', 200],
    ]);
    expect(completed[1]?.operator).toBe('alice');
    expect(lines.filter((line) => line.msg === 'incoming request')).toEqual([]);
    expect(log.lines.join('\n')).not.toContain(ALICE);
  });
});

describe('Bull Board actions', () => {
  it('retries a failed job with the session; refuses the same call from another site', async () => {
    const queue = new Queue(QUEUE_NAMES.approval, {
      connection: { url: inject('redisUrl') },
      prefix: ns.queuePrefix,
    });
    try {
      // A job that failed its last attempt, as the approval worker leaves one.
      const job = await queue.add(
        JOB_NAMES.activationReceived,
        { any: 'thing' },
        { jobId: 'j-1', attempts: 1 },
      );
      const worker = new Worker(QUEUE_NAMES.approval, () => Promise.reject(new Error('boom')), {
        connection: { url: inject('redisUrl') },
        prefix: ns.queuePrefix,
      });
      await expect.poll(() => queue.getJobState(job.id!)).toBe('failed');
      await worker.close();

      const session = sessionOf(await login(ALICE));
      const url = `/ops/queues/api/queues/${QUEUE_NAMES.approval}/${job.id}/retry`;
      const crossSite = await app.inject({
        method: 'PUT',
        url,
        headers: withSession(session, { origin: 'https://evil.example', host: 'ops.local' }),
      });
      expect(crossSite.statusCode).toBe(403);
      expect(await queue.getJobState(job.id!)).toBe('failed');

      const retried = await app.inject({
        method: 'PUT',
        url,
        headers: withSession(session, { origin: 'http://ops.local', host: 'ops.local' }),
      });
      expect(retried.statusCode).toBe(204);
      expect(await queue.getJobState(job.id!)).toBe('waiting');
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });

  it("retrying a failed job also retries its connection's failed callback, publishing first", async () => {
    const repo = ConnectionRepository.locked(mongo.db(ns.dbName), redis, ns.queuePrefix);
    const activation = new ActivationGenerator(808).next();
    await repo.recordActivation({ activation, requestId: 'r', receivedAt: new Date() });
    await repo.recordDecision(
      activation.connectionId,
      { action: 'approve', ruleId: 'default', decidedBy: 'rules', decidedAt: new Date() },
      ['received'],
    );
    const approvedCallback = { call: 'callback', state: 'approved' } as const;
    const lease = await repo.acquireCallLease(activation.connectionId, approvedCallback, 10_000);
    if (lease.kind !== 'acquired') throw new Error(`no lease: ${lease.why}`);
    await repo.completeCallback(activation.connectionId, lease.leaseId, 'approved', {
      outcome: 'failed',
      status: 400,
    });
    const queue = new Queue(QUEUE_NAMES.approval, {
      connection: { url: inject('redisUrl') },
      prefix: ns.queuePrefix,
    });
    try {
      const job = await queue.add(
        JOB_NAMES.activationReceived,
        { activation: { connectionId: activation.connectionId } },
        { jobId: 'j-connection', attempts: 1 },
      );
      const worker = new Worker(QUEUE_NAMES.approval, () => Promise.reject(new Error('boom')), {
        connection: { url: inject('redisUrl') },
        prefix: ns.queuePrefix,
      });
      await expect.poll(() => queue.getJobState(job.id!)).toBe('failed');
      await worker.close();
      const session = sessionOf(await login(ALICE));
      const retried = await app.inject({
        method: 'PUT',
        url: `/ops/queues/api/queues/${QUEUE_NAMES.approval}/${job.id}/retry`,
        headers: withSession(session, { origin: 'http://ops.local', host: 'ops.local' }),
      });
      expect(retried.statusCode).toBe(204);
      const published = (await queue.getJobs(['waiting'])).filter(
        (waiting) => waiting.name === JOB_NAMES.callbackRetryRequested,
      );
      expect(published.map((waiting) => waiting.data)).toEqual([
        expect.objectContaining({ connectionId: activation.connectionId, actor: 'ops:alice' }),
      ]);
      expect(await queue.getJobState(job.id!)).toBe('waiting');
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });

  const approvalApi = `/ops/queues/api/queues/${QUEUE_NAMES.approval}`;
  it.each([
    ['PUT', `${approvalApi}/empty`],
    ['PUT', `${approvalApi}/obliterate`],
    ['PUT', `${approvalApi}/clean/waiting`],
    ['PUT', `${approvalApi}/clean/delayed`],
    ['POST', `${approvalApi}/add`],
    ['PATCH', `${approvalApi}/kept/update-data`],
    ['PATCH', `${approvalApi}/kept/delay`],
    ['PUT', `${approvalApi}/kept/remove-unprocessed-children`],
    ['PUT', `${approvalApi}/job-schedulers/s-1/remove`],
    // A waiting job may not be removed one at a time either.
    ['PUT', `${approvalApi}/kept/clean`],
    // Encoded forms reach the same routes: the decision is on the matched route, not the text.
    ['PUT', `${approvalApi}/%65mpty`],
    ['PUT', `/ops/%71ueues/api/queues/${QUEUE_NAMES.approval}/empty`],
    ['POST', `${approvalApi}/%61dd`],
    ['PATCH', `${approvalApi}/kept/update%2Ddata`],
    ['PUT', `${approvalApi}/clean/%77aiting`],
  ] as const)('refuses %s %s: it could lose or forge acknowledged work', async (method, url) => {
    const queue = new Queue(QUEUE_NAMES.approval, {
      connection: { url: inject('redisUrl') },
      prefix: ns.queuePrefix,
    });
    try {
      await queue.add(JOB_NAMES.activationReceived, { kept: true }, { jobId: 'kept' });
      const response = await app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${ALICE}`, 'content-type': 'application/json' },
        payload: '{"name":"ActivationReceived","data":{},"delay":1000}',
      });
      expect(response.statusCode).toBe(403);
      expect(response.json()).toMatchObject({ code: 403, error: 'ACTION_NOT_ALLOWED' });
      expect(await queue.getJobState('kept')).toBe('waiting');
      expect(await queue.count()).toBe(1);
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });

  it('allows cleaning completed and failed jobs, in bulk or one by one', async () => {
    const route = `${QUEUE_BOARD_PATH}/api/queues/:queueName/clean/:queueStatus`;
    expect(refusedBoardAction('PUT', route, { queueStatus: 'completed' })).toBe(undefined);
    expect(refusedBoardAction('PUT', route, { queueStatus: 'failed' })).toBe(undefined);
    expect(refusedBoardAction('PUT', route, { queueStatus: 'wait' })).toBeDefined();
    const queue = new Queue(QUEUE_NAMES.approval, {
      connection: { url: inject('redisUrl') },
      prefix: ns.queuePrefix,
    });
    try {
      await queue.add(JOB_NAMES.activationReceived, { done: true }, { jobId: 'done' });
      const worker = new Worker(QUEUE_NAMES.approval, async () => 'ok', {
        connection: { url: inject('redisUrl') },
        prefix: ns.queuePrefix,
      });
      await expect.poll(() => queue.getJobState('done')).toBe('completed');
      await worker.close();
      const one = await app.inject({
        method: 'PUT',
        url: `${approvalApi}/done/clean`,
        headers: { authorization: `Bearer ${BOB}` },
      });
      expect(one.statusCode).toBe(204);
      expect(await queue.getJobState('done')).toBe('unknown');
      const bulk = await app.inject({
        method: 'PUT',
        url: `${approvalApi}/clean/completed`,
        headers: { authorization: `Bearer ${BOB}` },
      });
      expect(bulk.statusCode).toBe(200);
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
    }
  });
});

describe('login throttle (per client address, counted in Redis)', () => {
  const attempt = (target: FastifyInstance, remoteAddress: string, token: string) =>
    target.inject({
      method: 'POST',
      url: '/ops/login',
      remoteAddress,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ token, next: '/ops/console' }).toString(),
    });

  it('a flood of wrong tokens from one address ends in 429 and a lockout, the right token included, on every replica; another address still logs in', async () => {
    // Two replicas sharing the counters through the same Redis.
    const store = { redis, keyPrefix: `${ns.queuePrefix}-flood` };
    const [one, two] = [await build(tokens, false, store), await build(tokens, false, store)];
    try {
      const attacker = '203.0.113.7';
      const statuses: number[] = [];
      for (let i = 0; i <= LOGIN_FAILURES_BEFORE_LOCKOUT; i += 1) {
        const replica = i % 2 === 0 ? one : two;
        statuses.push(
          (await attempt(replica, attacker, `guess-${i}-Qm7vT2xK9pLw4Rz8Nb3Hc`)).statusCode,
        );
      }
      expect(statuses).toEqual([...Array<number>(LOGIN_FAILURES_BEFORE_LOCKOUT).fill(403), 429]);
      for (const replica of [one, two]) {
        const locked = await attempt(replica, attacker, ALICE);
        expect(locked.statusCode).toBe(429);
        expect(locked.body).toContain('locked out');
        expect(Number(locked.headers['retry-after'])).toBeGreaterThan(14 * 60);
        expect(locked.cookies).toHaveLength(0);
      }
      const elsewhere = await attempt(two, '198.51.100.9', ALICE);
      expect(elsewhere.statusCode).toBe(303);
      expect(elsewhere.cookies.map((c) => c.name)).toContain(SESSION_COOKIE);
      expect(log.lines.some((line) => line.includes('"event":"operator_login_throttled"'))).toBe(
        true,
      );
      expect(log.lines.join('')).not.toContain(ALICE);
    } finally {
      await one.close();
      await two.close();
    }
  });

  it('while its counters cannot be reached, a login is refused with 503, the right token included', async () => {
    // A real client of a Redis that is not there: every command fails at once.
    const gone = new Redis('redis://127.0.0.1:1', {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
    });
    const cut = await build(tokens, false, { redis: gone, keyPrefix: `${ns.queuePrefix}-gone` });
    try {
      const refused = await attempt(cut, '192.0.2.50', ALICE);
      expect(refused.statusCode).toBe(503);
      expect(refused.body).toContain('Logging in is unavailable');
      expect(refused.cookies).toHaveLength(0);
    } finally {
      await cut.close();
      gone.disconnect();
    }
  });

  it('more attempts in a minute than allowed get 429 from one address, even with the right token', async () => {
    const limited = await build(tokens, false, { redis, keyPrefix: `${ns.queuePrefix}-rate` });
    try {
      const address = '192.0.2.44';
      for (let i = 0; i < LOGIN_ATTEMPTS_PER_MINUTE; i += 1)
        expect((await attempt(limited, address, ALICE)).statusCode).toBe(303);
      const refused = await attempt(limited, address, ALICE);
      expect(refused.statusCode).toBe(429);
      expect(refused.body).toContain('Too many login attempts');
      expect(Number(refused.headers['retry-after'])).toBeGreaterThan(0);
      expect((await attempt(limited, '192.0.2.45', ALICE)).statusCode).toBe(303);
    } finally {
      await limited.close();
    }
  });
});
