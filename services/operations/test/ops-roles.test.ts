// Operators' roles over the real application: every operations route and Bull Board's API, asked
// by each role (metrics, viewer, operator, admin, and an entry written without a role) with a
// bearer token and with a login session, and by no one. A role that allows the route gets its
// answer (2xx); one that does not gets 403 FORBIDDEN_ROLE naming the role needed; no credential
// gets 401. Bull Board's queue list says read-only below admin.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import type { ActivateRequest } from '@fortellis-admin/contracts';
import { ConnectionRepository } from '@fortellis-admin/connection-store';
import { ActivationGenerator } from '@fortellis-admin/simulator';
import { JobPublisher } from '@fortellis-admin/service-kit';
import { capturingLogger, createTestNamespace } from '@fortellis-admin/test-support';
import { buildApp } from '../src/app.ts';
import {
  OPERATOR_ROLES,
  parseOperatorTokens,
  roleAllows,
  type OperatorRole,
} from '../src/domain/operator-roles.ts';
import { SESSION_COOKIE } from '../src/entry-points/login-routes.ts';
import { createOperationsMetrics } from '../src/operations-metrics.ts';

const ns = createTestNamespace('ops-roles');
const TOKENS: Record<OperatorRole | 'legacy', string> = {
  metrics: 'scrape-Hk3Lm9Qp2Wx7Zr4Tv8Bn1Cy6Df5Gj',
  viewer: 'viewer-Nq8Rt2Yu6Io0Pa4Sd9Fg3Hj7Kl1Zx',
  operator: 'operat-Cv5Bn9Mq2We6Rt0Yu4Io8Pa3Sd7Fg',
  admin: 'admin0-Jk1Lz5Xc9Vb3Nm7Qw2Er6Ty0Ui4Op',
  legacy: 'legacy-Ag4Sh8Dj2Fk6Gl0Hz3Jx7Kc1Lv5Bn',
};
// Configured as OPS_API_TOKENS says it, the last entry without a role.
const tokens = parseOperatorTokens(
  [
    `prometheus:metrics=${TOKENS.metrics}`,
    `vera:viewer=${TOKENS.viewer}`,
    `otto:operator=${TOKENS.operator}`,
    `ada:admin=${TOKENS.admin}`,
    `lee=${TOKENS.legacy}`,
  ].join(','),
);

let mongo: MongoClient;
let redis: Redis;
let repo: ConnectionRepository;
let publisher: JobPublisher;
let app: FastifyInstance;
const generator = new ActivationGenerator(2207);
const [held, toReject, accepted, failed, dismissed] = [1, 2, 3, 4, 5].map(() =>
  generator.next(),
) as [ActivateRequest, ActivateRequest, ActivateRequest, ActivateRequest, ActivateRequest];

beforeAll(async () => {
  mongo = new MongoClient(inject('mongoUrl'));
  await mongo.connect();
  redis = new Redis(inject('redisUrl'));
  repo = ConnectionRepository.locked(mongo.db(ns.dbName), redis, ns.queuePrefix);
  publisher = new JobPublisher({ connection: redis, prefix: ns.queuePrefix });
  for (const activation of [held, toReject, accepted, failed, dismissed])
    await repo.recordActivation({ activation, requestId: 'r', receivedAt: new Date() });
  const review = { action: 'review', ruleId: 'r', decidedBy: 'rules', decidedAt: new Date() };
  for (const { connectionId } of [held, toReject, dismissed])
    await repo.recordDecision(connectionId, { ...review, action: 'review' }, ['received']);
  for (const { connectionId } of [accepted, failed]) {
    await repo.recordDecision(connectionId, { ...review, action: 'approve' }, ['received']);
    const lease = await repo.acquireCallLease(
      connectionId,
      { call: 'callback', state: 'approved' },
      10_000,
    );
    if (lease.kind !== 'acquired') throw new Error(`no lease: ${lease.why}`);
    await repo.completeCallback(
      connectionId,
      lease.leaseId,
      'approved',
      connectionId === failed.connectionId
        ? { outcome: 'failed', status: 400 }
        : { outcome: 'acknowledged', status: 200 },
    );
  }
  app = await buildApp({
    logger: capturingLogger('operations').logger,
    metrics: createOperationsMetrics(),
    readiness: {},
    tokens,
    repo,
    publisher,
    queues: publisher.queues,
    clock: { now: () => new Date() },
  });
});

afterAll(async () => {
  await app.close();
  await publisher.close();
  await mongo.db(ns.dbName).dropDatabase();
  await mongo.close();
  redis.disconnect();
});

interface Route {
  method: 'GET' | 'POST' | 'PUT';
  url: string;
  needs: OperatorRole;
  body?: unknown;
  /** What the route answers a role allowed to call it (default: any 2xx). */
  allowed?: { status: number; error: string };
}

const RULES = 'rules:\n  - id: all\n    when: { apiInfo.id: { equals: x } }\n    action: approve\n';
const board = '/ops/queues/api/queues';
const ROUTES: Route[] = [
  { method: 'GET', url: '/metrics', needs: 'metrics' },
  { method: 'GET', url: '/ops/whoami', needs: 'viewer' },
  { method: 'GET', url: '/ops/attention', needs: 'viewer' },
  { method: 'GET', url: '/ops/connections', needs: 'viewer' },
  { method: 'GET', url: `/ops/connections/${held.connectionId}`, needs: 'viewer' },
  { method: 'GET', url: `/ops/connections/${held.connectionId}/timeline`, needs: 'viewer' },
  { method: 'GET', url: `/ops/search?q=${held.subscriptionId}`, needs: 'viewer' },
  { method: 'GET', url: '/ops/connection-requests', needs: 'viewer' },
  { method: 'GET', url: '/ops/deactivation-requests', needs: 'viewer' },
  { method: 'GET', url: '/ops/console', needs: 'viewer' },
  { method: 'GET', url: '/ops/console/console.js', needs: 'viewer' },
  { method: 'GET', url: '/ops/docs', needs: 'viewer' },
  { method: 'GET', url: '/ops/queues', needs: 'viewer' },
  { method: 'GET', url: board, needs: 'viewer' },
  { method: 'GET', url: `${board}/approval/workers`, needs: 'viewer' },
  { method: 'POST', url: `/ops/connections/${held.connectionId}/approve`, needs: 'operator' },
  {
    method: 'POST',
    url: `/ops/connections/${toReject.connectionId}/reject`,
    needs: 'operator',
    body: { reason: 'Not for this API.' },
  },
  {
    method: 'POST',
    url: `/ops/connections/${accepted.connectionId}/suspend`,
    needs: 'operator',
    body: { reason: 'Unpaid invoices.' },
  },
  { method: 'POST', url: `/ops/connections/${failed.connectionId}/retry`, needs: 'operator' },
  {
    method: 'POST',
    url: '/ops/connection-requests/dismiss',
    needs: 'operator',
    body: { subscriptionId: dismissed.subscriptionId, reason: 'Declined.' },
  },
  { method: 'POST', url: '/ops/rules/check', needs: 'admin', body: { rules: RULES } },
  { method: 'PUT', url: `${board}/approval/pause`, needs: 'admin' },
  { method: 'PUT', url: `${board}/approval/resume`, needs: 'admin' },
  { method: 'PUT', url: `${board}/pause`, needs: 'admin' },
  { method: 'PUT', url: `${board}/resume`, needs: 'admin' },
  { method: 'PUT', url: `${board}/approval/promote`, needs: 'admin' },
  { method: 'PUT', url: `${board}/approval/retry/failed`, needs: 'admin' },
  { method: 'PUT', url: `${board}/approval/clean/completed`, needs: 'admin' },
  // Emptying a queue loses acknowledged work: even an admin is refused, by the allow-list.
  {
    method: 'PUT',
    url: `${board}/approval/empty`,
    needs: 'admin',
    allowed: { status: 403, error: 'ACTION_NOT_ALLOWED' },
  },
];

type Caller = OperatorRole | 'legacy';
const CALLERS: Caller[] = [...OPERATOR_ROLES, 'legacy'];
/** An entry without a role is an operator. */
const roleOf = (caller: Caller): OperatorRole => (caller === 'legacy' ? 'operator' : caller);

function call(route: Route, headers: Record<string, string>): Promise<LightMyRequestResponse> {
  return app.inject({
    method: route.method,
    url: route.url,
    headers: {
      ...headers,
      ...(route.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(route.body === undefined ? {} : { payload: JSON.stringify(route.body) }),
  });
}

function expectAnswer(route: Route, caller: Caller, response: LightMyRequestResponse): void {
  const where = `${caller} ${route.method} ${route.url}`;
  if (!roleAllows(roleOf(caller), route.needs)) {
    expect(response.statusCode, where).toBe(403);
    expect(response.json(), where).toEqual({
      code: 403,
      error: 'FORBIDDEN_ROLE',
      message: `this needs the ${route.needs} role; the ${roleOf(caller)} role does not allow it`,
    });
    return;
  }
  if (route.allowed !== undefined) {
    expect(response.statusCode, where).toBe(route.allowed.status);
    expect(response.json(), where).toMatchObject({ error: route.allowed.error });
    return;
  }
  expect(response.statusCode, `${where}: ${response.body.slice(0, 200)}`).toBeGreaterThanOrEqual(
    200,
  );
  expect(response.statusCode, `${where}: ${response.body.slice(0, 200)}`).toBeLessThan(300);
}

describe('roles × routes, with a bearer token', () => {
  it.each(ROUTES.map((route) => [route.method, route.url, route] as const))(
    '%s %s: refused without a token (401), below its role (403), answered from its role up',
    async (_method, _url, route) => {
      const anonymous = await call(route, {});
      expect(anonymous.statusCode).toBe(401);
      expect(anonymous.json()).toMatchObject({ error: 'AUTHENTICATION_FAILED' });
      for (const caller of CALLERS)
        expectAnswer(
          route,
          caller,
          await call(route, { authorization: `Bearer ${TOKENS[caller]}` }),
        );
    },
  );
});

describe('roles × routes, with a login session', () => {
  const sessions = new Map<Caller, string>();

  beforeAll(async () => {
    for (const caller of CALLERS.filter((c) => c !== 'metrics')) {
      const response = await app.inject({
        method: 'POST',
        url: '/ops/login',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        payload: new URLSearchParams({ token: TOKENS[caller], next: '/ops/console' }).toString(),
      });
      expect(response.statusCode).toBe(303);
      const cookie = response.cookies.find((c) => c.name === SESSION_COOKIE);
      sessions.set(caller, cookie!.value);
    }
  });

  it.each(ROUTES.map((route) => [route.method, route.url, route] as const))(
    '%s %s: the same answers for the session of each role',
    async (_method, _url, route) => {
      for (const [caller, session] of sessions)
        expectAnswer(route, caller, await call(route, { cookie: `${SESSION_COOKIE}=${session}` }));
    },
  );

  it('a metrics token cannot open a session', async () => {
    const response = await app.inject({
      method: 'POST',
      url: '/ops/login',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: new URLSearchParams({ token: TOKENS.metrics }).toString(),
    });
    expect(response.statusCode).toBe(403);
    expect(response.body).toContain('reads /metrics only');
    expect(response.cookies).toHaveLength(0);
  });
});

describe('what each role is told it may do', () => {
  it('whoami names the operator and role, and what the role allows', async () => {
    const whoami = async (caller: Caller) =>
      (
        await app.inject({
          method: 'GET',
          url: '/ops/whoami',
          headers: { authorization: `Bearer ${TOKENS[caller]}` },
        })
      ).json();
    expect(await whoami('viewer')).toEqual({
      operator: 'vera',
      role: 'viewer',
      may: { read: true, act: false, administer: false },
    });
    expect(await whoami('legacy')).toEqual({
      operator: 'lee',
      role: 'operator',
      may: { read: true, act: true, administer: false },
    });
    expect(await whoami('admin')).toMatchObject({ role: 'admin', may: { administer: true } });
  });

  it("Bull Board's queue list is read-only below admin, writable for an admin", async () => {
    const queues = async (caller: Caller) =>
      (
        await app.inject({
          method: 'GET',
          url: board,
          headers: { authorization: `Bearer ${TOKENS[caller]}` },
        })
      ).json<{ queues: Array<{ name: string; readOnlyMode: boolean; allowRetries: boolean }> }>()
        .queues;
    for (const caller of ['viewer', 'operator', 'legacy'] as const) {
      const list = await queues(caller);
      expect(list.length).toBeGreaterThan(0);
      expect(
        list.every((q) => q.readOnlyMode && !q.allowRetries),
        caller,
      ).toBe(true);
    }
    expect((await queues('admin')).every((q) => !q.readOnlyMode && q.allowRetries)).toBe(true);
  });
});
