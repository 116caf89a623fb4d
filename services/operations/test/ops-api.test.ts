// The operations API (read side) on its own listener: operator tokens required, list filters and
// cursor pagination, one connection in full.
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { type ActivateRequest } from '@fortellis-admin/contracts';
import { ConnectionLocks, ConnectionRepository } from '@fortellis-admin/connection-store';
import { ActivationGenerator } from '@fortellis-admin/simulator';
import { capturingLogger, createTestNamespace } from '@fortellis-admin/test-support';
import { Queue } from 'bullmq';
import { QUEUE_NAMES } from '@fortellis-admin/contracts';
import { buildApp } from '../src/app.ts';
import { JobPublisher } from '@fortellis-admin/service-kit';
import { createOperationsMetrics, WAITING_STATES } from '../src/operations-metrics.ts';

const METRICS_NOW = '2026-11-23T12:00:00Z';

const ns = createTestNamespace('ops');
const ALICE = 'alice-admin-Qm7vT2xK9pLw4Rz8Nb3Hc6Jd';
const BOB = 'bob-operator-5Fg1Ys0aUe2Wq8Ti4Ok7Pl';
let mongo: MongoClient;
let redis: Redis;
let repo: ConnectionRepository;
let app: FastifyInstance;
let publisher: JobPublisher;
let approvalQueue: Queue;
const generator = new ActivationGenerator(91);
const approvedCallback = { call: 'callback', state: 'approved' } as const;
const seeded: ActivateRequest[] = [];

beforeAll(async () => {
  mongo = new MongoClient(inject('mongoUrl'));
  await mongo.connect();
  redis = new Redis(inject('redisUrl'));
  let clock = Date.parse('2026-11-01T00:00:00Z');
  // A clock that moves a second per call keeps creation order strict and known.
  repo = new ConnectionRepository(
    mongo.db(ns.dbName),
    { kind: 'locked', locks: new ConnectionLocks(redis, { prefix: ns.queuePrefix }) },
    () => new Date((clock += 1000)),
  );
  for (let i = 0; i < 7; i += 1) {
    const activation = {
      ...generator.next(),
      ...(i < 3 ? { apiInfo: { id: 'v9-special', name: 'Special', implementationName: 'x' } } : {}),
    };
    seeded.push(activation);
    await repo.recordActivation({ activation, requestId: `r-${i}`, receivedAt: new Date() });
  }
  await repo.transition(seeded[1]!.connectionId, ['received'], 'pending_review', {
    event: 'held_for_review',
    by: 'rules',
  });
  await repo.recordDeactivation(seeded[2]!.connectionId, {
    requestId: 'd',
    receivedAt: new Date(),
  });
  publisher = new JobPublisher({ connection: redis, prefix: ns.queuePrefix });
  approvalQueue = new Queue(QUEUE_NAMES.approval, {
    connection: { url: inject('redisUrl') },
    prefix: ns.queuePrefix,
  });
  app = await buildApp({
    publisher,
    queues: publisher.queues,
    clock: { now: () => new Date('2026-11-23T12:00:00Z') },
    logger: capturingLogger('operations').logger,
    metrics: createOperationsMetrics(
      () => repo.oldestWaiting(WAITING_STATES),
      () => new Date(METRICS_NOW),
    ),
    readiness: {},
    tokens: [
      { name: 'alice', role: 'admin', token: ALICE },
      { name: 'bob', role: 'operator', token: BOB },
    ],
    repo,
  });
});

afterAll(async () => {
  await app.close();
  await publisher.close();
  await approvalQueue.close();
  await mongo.db(ns.dbName).dropDatabase();
  await mongo.close();
  redis.disconnect();
});

const get = (url: string, token: string | null = ALICE) =>
  app.inject({
    method: 'GET',
    url,
    headers: token === null ? {} : { authorization: `Bearer ${token}` },
  });

describe('operator authentication', () => {
  it.each(['/ops/connections', `/ops/connections/${'2529a384-add3-4b6a-a935-ed09e45def12'}`])(
    '%s refuses without a token (401) and with a wrong one (403)',
    async (url) => {
      const missing = await get(url, null);
      expect(missing.statusCode).toBe(401);
      expect(missing.json()).toMatchObject({ code: 401, error: 'AUTHENTICATION_FAILED' });
      const wrong = await get(url, `${ALICE.slice(0, -1)}x`);
      expect(wrong.statusCode).toBe(403);
      expect(wrong.json()).toMatchObject({ code: 403 });
      expect((await get(url, BOB)).statusCode).not.toBe(403);
    },
  );
});

describe('GET /ops/connections', () => {
  it('lists newest first, with summaries', async () => {
    const body = (await get('/ops/connections')).json();
    expect(body.items.map((item: { connectionId: string }) => item.connectionId)).toEqual(
      [...seeded].reverse().map((a) => a.connectionId),
    );
    expect(body.items[0]).toEqual({
      connectionId: seeded[6]!.connectionId,
      subscriptionId: seeded[6]!.subscriptionId,
      organizationId: seeded[6]!.organizationInfo.id,
      organizationName: seeded[6]!.organizationInfo.name,
      apiId: seeded[6]!.apiInfo.id,
      state: 'received',
      decision: null,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    expect(body.nextCursor).toBeNull();
  });

  it('filters by state, subscription, organization and API', async () => {
    const ids = async (query: string) =>
      (await get(`/ops/connections?${query}`))
        .json()
        .items.map((item: { connectionId: string }) => item.connectionId);
    expect(await ids('state=pending_review')).toEqual([seeded[1]!.connectionId]);
    expect(await ids('state=deactivated')).toEqual([seeded[2]!.connectionId]);
    expect(await ids(`subscriptionId=${seeded[4]!.subscriptionId}`)).toEqual([
      seeded[4]!.connectionId,
    ]);
    expect(await ids(`organizationId=${seeded[5]!.organizationInfo.id}`)).toEqual([
      seeded[5]!.connectionId,
    ]);
    expect(await ids('apiId=v9-special')).toEqual(
      [seeded[2]!, seeded[1]!, seeded[0]!].map((a) => a.connectionId),
    );
    expect(await ids('apiId=v9-special&state=received')).toEqual([seeded[0]!.connectionId]);
  });

  it('pages with a cursor until the end, each connection once', async () => {
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const response = await get(
        `/ops/connections?limit=3${cursor === null ? '' : `&cursor=${cursor}`}`,
      );
      const body = response.json<{
        items: Array<{ connectionId: string }>;
        nextCursor: string | null;
      }>();
      seen.push(...body.items.map((item) => item.connectionId));
      cursor = body.nextCursor;
      pages += 1;
    } while (cursor !== null);
    expect(pages).toBe(3);
    expect(seen).toEqual([...seeded].reverse().map((a) => a.connectionId));
  });

  it.each([
    ['state=maybe', 400],
    ['limit=0', 400],
    ['limit=1000', 400],
    ['cursor=not-a-cursor', 400],
    ['unknown=1', 400],
  ])('refuses %s with %i', async (query, status) => {
    const response = await get(`/ops/connections?${query}`);
    expect(response.statusCode).toBe(status);
    expect(response.json()).toMatchObject({ code: 400, error: 'CONTRACT_VIOLATION' });
  });
});

describe('GET /ops/connections/{connectionId}', () => {
  it('shows one connection with its history, without lease bookkeeping', async () => {
    const response = await get(`/ops/connections/${seeded[1]!.connectionId.toUpperCase()}`);
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body).toMatchObject({
      connectionId: seeded[1]!.connectionId,
      state: 'pending_review',
      activation: { subscriptionId: seeded[1]!.subscriptionId },
    });
    expect(body.history.map((entry: { event: string }) => entry.event)).toEqual([
      'activation_received',
      'held_for_review',
    ]);
    expect(body._id).toBeUndefined();
  });

  it('answers 404 for an unknown connection', async () => {
    const response = await get('/ops/connections/00000000-0000-4000-8000-000000000000');
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ code: 404, error: 'NOT_FOUND' });
  });
});

describe('deciding held connections', () => {
  const post = (url: string, body?: unknown, token: string = ALICE) =>
    app.inject({
      method: 'POST',
      url,
      headers: {
        authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      ...(body === undefined ? {} : { payload: JSON.stringify(body) }),
    });

  it('refuses approve and reject without a token or with a wrong one', async () => {
    const url = `/ops/connections/${seeded[1]!.connectionId}/approve`;
    expect((await app.inject({ method: 'POST', url })).statusCode).toBe(401);
    expect((await post(url, undefined, 'x'.repeat(30))).statusCode).toBe(403);
  });

  it('approving a held connection queues a ReviewDecided job and lands in its history', async () => {
    const held = seeded[1]!;
    const response = await post(`/ops/connections/${held.connectionId}/approve`);
    expect(response.statusCode).toBe(202);
    expect(response.json()).toEqual({
      connectionId: held.connectionId,
      action: 'approve',
      actor: 'ops:alice',
      status: 'queued',
    });
    const jobs = await approvalQueue.getJobs(['waiting']);
    expect(jobs.map((job) => [job.id, job.name, job.data])).toEqual([
      [
        `review-${held.connectionId}`,
        'ReviewDecided',
        {
          connectionId: held.connectionId,
          action: 'approve',
          actor: 'ops:alice',
          decidedAt: '2026-11-23T12:00:00.000Z',
          requestId: expect.any(String),
        },
      ],
    ]);
    const detail = (await get(`/ops/connections/${held.connectionId}`)).json();
    expect(detail.history.at(-1)).toMatchObject({
      event: 'operator_approve_requested',
      by: 'ops:alice',
    });
  });

  it('a second, different decision answers 409 with the decision already taken; the same one again is one job', async () => {
    const held = seeded[1]!;
    const conflicting = await post(`/ops/connections/${held.connectionId}/reject`, {
      reason: 'Unknown dealer.',
    });
    expect(conflicting.statusCode).toBe(409);
    expect(conflicting.json()).toEqual({
      code: 409,
      error: 'CONFLICT',
      message: 'connection already has a review decision: approve by ops:alice',
    });
    expect((await post(`/ops/connections/${held.connectionId}/approve`)).statusCode).toBe(202);
    const jobs = await approvalQueue.getJobs(['waiting']);
    expect(jobs.map((job) => (job.data as { action: string }).action)).toEqual(['approve']);
    const history = (await get(`/ops/connections/${held.connectionId}`)).json().history as Array<{
      event: string;
    }>;
    expect(history.filter((entry) => entry.event.startsWith('operator_'))).toHaveLength(1);
  });

  it('a reject needs a reason', async () => {
    const response = await post(`/ops/connections/${seeded[3]!.connectionId}/reject`, {});
    expect(response.statusCode).toBe(400);
  });

  it('answers 409 when the connection is not held for review, 404 when unknown', async () => {
    const response = await post(`/ops/connections/${seeded[2]!.connectionId}/reject`, {
      reason: 'no',
    });
    expect(response.statusCode).toBe(409);
    expect(response.json()).toEqual({
      code: 409,
      error: 'CONFLICT',
      message: 'connection is deactivated, not pending_review',
    });
    expect(
      (await post('/ops/connections/00000000-0000-4000-8000-000000000000/approve')).statusCode,
    ).toBe(404);
  });
});

describe('retrying failed work', () => {
  const retry = (id: string) =>
    app.inject({
      method: 'POST',
      url: `/ops/connections/${id}/retry`,
      headers: { authorization: `Bearer ${BOB}` },
    });

  it('answers 409 when nothing failed', async () => {
    const response = await retry(seeded[4]!.connectionId);
    expect(response.statusCode).toBe(409);
    expect(response.json()).toEqual({
      code: 409,
      error: 'CONFLICT',
      message: 'connection is received with nothing failed to retry',
    });
  });

  it('queues a retry job for a failed callback, and leaves reopening it to the worker that takes the job', async () => {
    const failed = seeded[5]!;
    await repo.transition(failed.connectionId, ['received'], 'approved', {
      event: 'decided_approve',
      by: 'rules',
      set: {
        decision: {
          action: 'approve',
          ruleId: 'default',
          decidedBy: 'rules',
          decidedAt: new Date(),
        },
      },
    });
    const lease = await repo.acquireCallLease(failed.connectionId, approvedCallback, 10_000);
    if (lease.kind !== 'acquired') throw new Error(`no lease: ${lease.why}`);
    await repo.completeCallback(failed.connectionId, lease.leaseId, 'approved', {
      outcome: 'failed',
      status: 400,
      body: 'bad',
    });
    const response = await retry(failed.connectionId);
    expect(response.statusCode).toBe(202);
    expect(response.json()).toEqual({
      connectionId: failed.connectionId,
      retried: ['callback'],
      actor: 'ops:bob',
      status: 'queued',
    });
    // Published first: nothing is written until a worker runs the job.
    expect(await repo.get(failed.connectionId)).toMatchObject({
      state: 'callback_failed',
      callback: { attempts: 1, outcome: 'failed' },
    });
    const jobs = await approvalQueue.getJobs(['waiting']);
    expect(
      jobs
        .filter((job) => job.name === 'CallbackRetryRequested')
        .map((job) => job.data.connectionId),
    ).toEqual([failed.connectionId]);
  });

  it('queues a retry job on the deprovision queue for failed deprovision steps', async () => {
    const gone = seeded[2]!;
    await repo
      .acquireCallLease(gone.connectionId, { call: 'step', step: 'cleanup' }, 10_000)
      .then((lease) =>
        lease.kind === 'acquired'
          ? repo.completeStep(gone.connectionId, 'cleanup', lease.leaseId, {
              status: 'done',
              httpStatus: 200,
            })
          : undefined,
      );
    const report = { call: 'step', step: 'deactivationReport' } as const;
    await repo.acquireCallLease(gone.connectionId, report, 10_000).then((lease) =>
      lease.kind === 'acquired'
        ? repo.completeStep(gone.connectionId, 'deactivationReport', lease.leaseId, {
            status: 'failed',
            httpStatus: 400,
            body: 'no',
          })
        : undefined,
    );
    const response = await retry(gone.connectionId);
    expect(response.statusCode).toBe(202);
    expect(response.json().retried).toEqual(['deactivationReport']);
    expect((await repo.get(gone.connectionId))?.steps).toMatchObject({
      cleanup: { status: 'done' },
      deactivationReport: { attempts: 1, status: 'failed' },
    });
    const deprovisionQueue = new Queue(QUEUE_NAMES.deprovision, {
      connection: { url: inject('redisUrl') },
      prefix: ns.queuePrefix,
    });
    expect((await deprovisionQueue.getJobs(['waiting'])).map((job) => job.name)).toEqual([
      'DeprovisionRetryRequested',
    ]);
    await deprovisionQueue.close();
  });
});

describe('suspending an accepted connection (stop traffic)', () => {
  const suspend = (id: string, body: unknown, token: string = ALICE) =>
    app.inject({
      method: 'POST',
      url: `/ops/connections/${id}/suspend`,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    });

  /** Takes a received connection through the rules' approval and an acknowledged callback. */
  async function accept(id: string): Promise<void> {
    await repo.recordDecision(
      id,
      { action: 'approve', ruleId: 'default', decidedBy: 'rules', decidedAt: new Date() },
      ['received'],
    );
    const lease = await repo.acquireCallLease(id, approvedCallback, 10_000);
    if (lease.kind !== 'acquired') throw new Error(`no lease: ${lease.why}`);
    await repo.completeCallback(id, lease.leaseId, 'approved', {
      outcome: 'acknowledged',
      status: 200,
    });
  }

  const accepted = generator.next();
  const id = accepted.connectionId;

  it('records who and why, moves it to suspending and queues one SuspensionRequested job; the same request again is a repeat', async () => {
    await repo.recordActivation({ activation: accepted, requestId: 'r-s', receivedAt: new Date() });
    await accept(id);
    const response = await suspend(id, { reason: 'Unpaid invoices' });
    expect(response.statusCode).toBe(202);
    expect(response.json()).toEqual({
      connectionId: id,
      state: 'suspending',
      reason: 'Unpaid invoices',
      actor: 'ops:alice',
      status: 'queued',
    });
    expect(await repo.get(id)).toMatchObject({
      state: 'suspending',
      suspension: { reason: 'Unpaid invoices', by: 'ops:alice' },
      callback: { status: 'rejected', attempts: 0 },
    });
    const again = await suspend(id, { reason: 'Unpaid invoices' }, BOB);
    expect(again.statusCode).toBe(202);
    expect(again.json()).toMatchObject({ state: 'suspending', actor: 'ops:alice' });
    const jobs = (await approvalQueue.getJobs(['waiting'])).filter(
      (job) => job.name === 'SuspensionRequested',
    );
    expect(jobs.map((job) => [job.id, job.data])).toEqual([
      [
        `suspension-${id}`,
        {
          connectionId: id,
          reason: 'Unpaid invoices',
          actor: 'ops:alice',
          requestedAt: '2026-11-23T12:00:00.000Z',
          requestId: expect.any(String),
        },
      ],
    ]);
    const detail = (await get(`/ops/connections/${id}`)).json();
    expect(detail.history.at(-1)).toMatchObject({
      event: 'suspension_requested',
      from: 'accepted',
      to: 'suspending',
      by: 'ops:alice',
      detail: 'Unpaid invoices',
    });
  });

  it('another reason for the same connection answers 409 naming the suspension already taken', async () => {
    const response = await suspend(id, { reason: 'Abuse' }, BOB);
    expect(response.statusCode).toBe(409);
    expect(response.json()).toEqual({
      code: 409,
      error: 'CONFLICT',
      message: 'connection is suspending: already suspended by ops:alice (Unpaid invoices)',
    });
  });

  it('a connection that is not accepted answers 409 with its state; an unknown one 404; a blank reason 400', async () => {
    const held = await suspend(seeded[4]!.connectionId, { reason: 'Abuse' });
    expect(held.statusCode).toBe(409);
    expect(held.json().message).toBe(
      'connection is received: only an accepted connection can be suspended',
    );
    const gone = await suspend(seeded[2]!.connectionId, { reason: 'Abuse' });
    expect(gone.json().message).toBe(
      'connection is deactivated: only an accepted connection can be suspended',
    );
    expect(
      (await suspend('00000000-0000-4000-8000-000000000000', { reason: 'x' })).statusCode,
    ).toBe(404);
    for (const body of [{}, { reason: '   ' }, { reason: 'x'.repeat(501) }]) {
      const bad = await suspend(seeded[4]!.connectionId, body);
      expect(bad.statusCode).toBe(400);
      expect(bad.json()).toMatchObject({ code: 400 });
    }
    expect((await repo.get(seeded[4]!.connectionId))?.state).toBe('received');
  });
});

describe("a connection's story and finding it", () => {
  const story = generator.next();
  const id = story.connectionId;

  it('tells every event in order with times and who did it, each failed attempt with its answer, and the actions its state accepts', async () => {
    await repo.recordActivation({
      activation: story,
      requestId: 'req-story',
      receivedAt: new Date('2026-10-31T23:59:59Z'),
    });
    await repo.recordDecision(
      id,
      { action: 'approve', ruleId: 'big-dealers', decidedBy: 'rules', decidedAt: new Date() },
      ['received'],
    );
    const first = await repo.acquireCallLease(id, approvedCallback, 10_000);
    if (first.kind !== 'acquired') throw new Error(`no lease: ${first.why}`);
    await repo.releaseCallLease(id, approvedCallback, first.leaseId, {
      status: 503,
      error: 'HTTP 503',
    });
    const second = await repo.acquireCallLease(id, approvedCallback, 10_000);
    if (second.kind !== 'acquired') throw new Error(`no lease: ${second.why}`);
    await repo.completeCallback(id, second.leaseId, 'approved', {
      outcome: 'acknowledged',
      status: 200,
    });
    const accepted = (await get(`/ops/connections/${id}/timeline`)).json();
    expect(accepted.actions).toEqual(['suspend']);

    await app.inject({
      method: 'POST',
      url: `/ops/connections/${id}/suspend`,
      headers: { authorization: `Bearer ${BOB}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ reason: 'Abuse of the API' }),
    });
    const response = await get(`/ops/connections/${id.toUpperCase()}/timeline`);
    expect(response.statusCode).toBe(200);
    const timeline = response.json();
    expect(timeline).toMatchObject({
      connectionId: id,
      subscriptionId: story.subscriptionId,
      organizationId: story.organizationInfo.id,
      organizationName: story.organizationInfo.name,
      state: 'suspending',
      suspension: { reason: 'Abuse of the API', by: 'ops:bob' },
      actions: [],
    });
    expect(
      timeline.events.map((e: { event: string; by: string; detail?: string; problem: boolean }) => [
        e.event,
        e.by,
        e.detail,
        e.problem,
      ]),
    ).toEqual([
      ['activate_called', 'fortellis', 'request req-story: answered 200', false],
      ['activation_received', 'approval-worker', 'request req-story', false],
      ['decided_approve', 'rules', 'big-dealers', false],
      ['callback_attempt_failed', 'approval-worker', 'HTTP 503', true],
      ['callback_accepted_acknowledged', 'approval-worker', 'HTTP 200', false],
      ['suspension_requested', 'ops:bob', 'Abuse of the API', false],
    ]);
    expect(timeline.events[2]).toMatchObject({
      topic: 'decision',
      title: 'Approved',
      from: 'received',
      to: 'approved',
    });
    const times = timeline.events.map((e: { at: string }) => Date.parse(e.at));
    expect(times).toEqual([...times].sort((a, b) => a - b));
    expect(
      (await get('/ops/connections/00000000-0000-4000-8000-000000000000/timeline')).statusCode,
    ).toBe(404);
  });

  it('finds it by connection id, subscription id and organization id', async () => {
    const search = async (q: string) =>
      (await get(`/ops/search?q=${encodeURIComponent(q)}`)).json();
    expect((await search(id.toUpperCase())).matches).toMatchObject([
      { matchedBy: 'connectionId', connectionId: id, state: 'suspending' },
    ]);
    expect((await search(story.subscriptionId)).matches).toMatchObject([
      { matchedBy: 'subscriptionId', connectionId: id },
    ]);
    const byOrganization = (await search(` ${story.organizationInfo.id} `)).matches;
    expect(byOrganization.map((m: { connectionId: string }) => m.connectionId)).toContain(id);
    expect(new Set(byOrganization.map((m: { matchedBy: string }) => m.matchedBy))).toEqual(
      new Set(['organizationId']),
    );
    expect(await search('nothing-like-this')).toEqual({ query: 'nothing-like-this', matches: [] });
    expect((await get('/ops/search?q=%20%20')).statusCode).toBe(400);
    expect((await get('/ops/search')).statusCode).toBe(400);
  });

  it('serves the connections page and its script to operators only', async () => {
    const page = await get('/ops/console');
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toContain('text/html');
    expect(page.body).toContain('<script type="module" src="/ops/console/console.js"></script>');
    const script = await get('/ops/console/console.js');
    expect(script.headers['content-type']).toContain('text/javascript');
    expect(script.body).toContain('/timeline');
    const anonymous = await app.inject({
      method: 'GET',
      url: '/ops/console?q=x',
      headers: { accept: 'text/html' },
    });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.body).toContain('name="next" value="/ops/console?q=x"');
  });
});

describe('the dry run of an approval rules file', () => {
  const post = (body: unknown) =>
    app.inject({
      method: 'POST',
      url: '/ops/rules/check',
      headers: { authorization: `Bearer ${ALICE}`, 'content-type': 'application/json' },
      payload: JSON.stringify(body),
    });
  const rules = `rules:
  - id: special-api
    when: { apiInfo.id: { equals: v9-special } }
    action: reject
    reason: Not sold here.
`;

  it('lists the problems of a bad file, each with its rule and line', async () => {
    const response = await post({ rules: rules.replace('action: reject', 'action: refuse') });
    expect(response.statusCode).toBe(200);
    expect(response.json()).toMatchObject({
      valid: false,
      problems: [
        {
          pointer: '/rules/0/action',
          ruleId: 'special-api',
          line: 4,
          message: 'must be equal to one of the allowed values',
        },
      ],
      outcomes: [],
    });
  });

  it('without samples, tries the last stored activations; with samples, those', async () => {
    const stored = (await post({ rules, lastStored: 200 })).json();
    expect(stored).toMatchObject({ valid: true, rules: 1, samplesFrom: 'stored' });
    const special = new Set(seeded.slice(0, 3).map((a) => a.connectionId));
    for (const outcome of stored.outcomes as Array<{
      connectionId: string;
      ruleId: string;
      sent: unknown;
    }>) {
      if (special.has(outcome.connectionId))
        expect(outcome).toMatchObject({
          ruleId: 'special-api',
          sent: { status: 'rejected', error: 'Not sold here.' },
        });
      else expect(outcome).toMatchObject({ ruleId: 'default', sent: null });
    }
    expect(stored.outcomes.length).toBeGreaterThanOrEqual(7);

    const json = JSON.stringify({ defaultAction: 'approve', rules: [] });
    const posted = (await post({ rules: json, samples: [seeded[5], { nope: 1 }] })).json();
    expect(posted).toMatchObject({
      valid: true,
      samplesFrom: 'request',
      outcomes: [{ sample: 0, ruleId: 'default', action: 'approve', sent: { status: 'accepted' } }],
      sampleProblems: [{ sample: 1 }],
    });
  });

  it('refuses a request without rules (400)', async () => {
    expect((await post({})).statusCode).toBe(400);
    expect((await post({ rules: 'x', lastStored: 0 })).statusCode).toBe(400);
  });

  it('is bounded: body (413), rules text and sample counts (400), each with a stable code', async () => {
    const tooLarge = await post({ rules, samples: [{ padding: 'x'.repeat(1024 * 1024) }] });
    expect(tooLarge.statusCode).toBe(413);
    expect(tooLarge.json()).toMatchObject({ code: 413, error: 'PAYLOAD_TOO_LARGE' });
    const cases: Array<[unknown, string]> = [
      [{ rules: `# ${'x'.repeat(256 * 1024)}\n${rules}` }, '/rules'],
      [{ rules, samples: Array.from({ length: 201 }, () => ({})) }, '/samples'],
      [{ rules, lastStored: 201 }, '/lastStored'],
    ];
    for (const [body, pointer] of cases) {
      const response = await post(body);
      expect(response.statusCode, pointer).toBe(400);
      expect(response.json(), pointer).toMatchObject({ error: 'CONTRACT_VIOLATION' });
      expect(response.json().message, pointer).toContain(pointer);
    }
    // Within the limits, the answer says whether every sample was tried in time.
    const answered = (await post({ rules, samples: seeded })).json();
    expect(answered).toMatchObject({ valid: true, complete: true });
    expect(answered.outcomes).toHaveLength(seeded.length);
  });
});

describe("the tutorial's requests, done right", () => {
  it('lists waiting connection requests and deactivation requests', async () => {
    const extra = generator.next();
    await repo.recordActivation({ activation: extra, requestId: 'r-x', receivedAt: new Date() });
    await repo.transition(extra.connectionId, ['received'], 'pending_review', {
      event: 'held_for_review',
      by: 'rules',
    });
    const requests = (await get('/ops/connection-requests')).json().connectionRequests;
    expect(requests.map((r: { connectionId: string }) => r.connectionId)).toContain(
      extra.connectionId,
    );
    expect(
      requests.find((r: { connectionId: string }) => r.connectionId === extra.connectionId),
    ).toMatchObject({ subscriptionId: extra.subscriptionId, userInfo: extra.userInfo });
    const deactivations = (await get('/ops/deactivation-requests')).json().deactivationRequests;
    expect(deactivations.map((r: { connectionId: string }) => r.connectionId)).toContain(
      seeded[2]!.connectionId,
    );
  });

  it('dismissing by subscriptionId rejects its waiting connections through the callback path', async () => {
    const waiting = generator.next();
    await repo.recordActivation({ activation: waiting, requestId: 'r-w', receivedAt: new Date() });
    await repo.transition(waiting.connectionId, ['received'], 'pending_review', {
      event: 'held_for_review',
      by: 'rules',
    });
    const response = await app.inject({
      method: 'POST',
      url: '/ops/connection-requests/dismiss',
      headers: { authorization: `Bearer ${ALICE}`, 'content-type': 'application/json' },
      payload: JSON.stringify({
        subscriptionId: waiting.subscriptionId,
        reason: 'Not a customer.',
      }),
    });
    expect(response.statusCode).toBe(202);
    expect(response.json()).toEqual({
      subscriptionId: waiting.subscriptionId,
      dismissed: [waiting.connectionId],
      status: 'queued',
    });
    const job = (await approvalQueue.getJobs(['waiting'])).find(
      (j) => j.id === `review-${waiting.connectionId}`,
    );
    expect(job?.data).toMatchObject({
      action: 'reject',
      reason: 'Not a customer.',
      actor: 'ops:alice',
    });
    const again = await app.inject({
      method: 'POST',
      url: '/ops/connection-requests/dismiss',
      headers: { authorization: `Bearer ${ALICE}`, 'content-type': 'application/json' },
      payload: JSON.stringify({ subscriptionId: '00000000-0000-4000-8000-000000000000' }),
    });
    expect(again.statusCode).toBe(404);
  });

  it('refuses the tutorial routes without a token', async () => {
    for (const url of ['/ops/connection-requests', '/ops/deactivation-requests'])
      expect((await get(url, null)).statusCode).toBe(401);
  });
});

describe('GET /metrics', () => {
  it('shows how long the longest-waiting connection of each waiting state has waited', async () => {
    const text = (await get('/metrics')).body;
    const ageOf = async (index: number) => {
      const stored = await repo.get(seeded[index]!.connectionId);
      return (Date.parse(METRICS_NOW) - stored!.updatedAt.getTime()) / 1000;
    };
    const series = (state: string) =>
      Number(
        new RegExp(
          `^fortellis_admin_oldest_connection_age_seconds\\{state="${state}",service="operations"\\} (\\S+)$`,
          'm',
        ).exec(text)?.[1],
      );
    // seeded[0] is the oldest still received; seeded[1] was held for review.
    expect(series('received')).toBe(await ageOf(0));
    expect(series('pending_review')).toBe(await ageOf(1));
    expect(series('approved')).toBe(0);
    expect(series('rejected')).toBe(0);
    expect(text).toContain('# TYPE fortellis_admin_http_request_duration_seconds histogram');
  });
});

describe('GET /ops/docs', () => {
  it('serves the OpenAPI document of every operations route, to operators only', async () => {
    expect((await get('/ops/docs', null)).statusCode).toBe(401);
    const doc = (await get('/ops/docs')).json();
    expect(doc.openapi).toBe('3.1.0');
    expect(Object.keys(doc.paths).sort()).toEqual([
      '/metrics',
      '/ops/attention',
      '/ops/connection-requests',
      '/ops/connection-requests/dismiss',
      '/ops/connections',
      '/ops/connections/{connectionId}',
      '/ops/connections/{connectionId}/approve',
      '/ops/connections/{connectionId}/reject',
      '/ops/connections/{connectionId}/retry',
      '/ops/connections/{connectionId}/suspend',
      '/ops/connections/{connectionId}/timeline',
      '/ops/deactivation-requests',
      '/ops/docs',
      '/ops/rules/check',
      '/ops/search',
      '/ops/whoami',
    ]);
    expect(
      doc.paths['/ops/connections'].get.parameters.map((p: { name: string }) => p.name),
    ).toContain('state');
    expect(doc.components.securitySchemes.operatorToken).toEqual({
      type: 'http',
      scheme: 'bearer',
    });
  });
});

describe('every operations route requires an operator token', () => {
  const id = '2529a384-add3-4b6a-a935-ed09e45def12';
  it.each([
    ['GET', '/ops/connections'],
    ['GET', `/ops/connections/${id}`],
    ['POST', `/ops/connections/${id}/approve`],
    ['POST', `/ops/connections/${id}/reject`],
    ['POST', `/ops/connections/${id}/retry`],
    ['POST', `/ops/connections/${id}/suspend`],
    ['GET', `/ops/connections/${id}/timeline`],
    ['GET', '/ops/search?q=x'],
    ['GET', '/ops/attention'],
    ['GET', '/ops/whoami'],
    ['GET', '/ops/console'],
    ['GET', '/ops/console/console.js'],
    ['POST', '/ops/rules/check'],
    ['GET', '/ops/connection-requests'],
    ['GET', '/ops/deactivation-requests'],
    ['POST', '/ops/connection-requests/dismiss'],
    ['GET', '/ops/docs'],
    ['GET', '/metrics'],
    ['GET', '/ops/queues'],
    ['GET', '/ops/queues/api/queues'],
    ['PUT', '/ops/queues/api/queues/approval/retry/failed'],
    ['PUT', '/ops/queues/api/queues/approval/pause'],
  ] as const)('%s %s: 401 without a token, 403 with a wrong one', async (method, url) => {
    const missing = await app.inject({ method, url });
    expect(missing.statusCode).toBe(401);
    expect(missing.json()).toMatchObject({ code: 401 });
    const wrong = await app.inject({
      method,
      url,
      headers: { authorization: 'Bearer wrong-token-0123456789abcdef' },
    });
    expect(wrong.statusCode).toBe(403);
    expect(wrong.json()).toMatchObject({ code: 403 });
  });
});
