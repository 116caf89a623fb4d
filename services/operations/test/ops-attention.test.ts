// GET /ops/attention, the page the console opens on: every connection that waits for an operator
// (held for review, callback or provisioning given up, a clean-up or report given up after a
// deactivation, a suspension in flight), grouped by kind, the one waiting longest first; nothing
// that needs no one (received, accepted, a deactivation whose steps all ended).
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import type { ActivateRequest } from '@fortellis-admin/contracts';
import { ConnectionLocks, ConnectionRepository } from '@fortellis-admin/connection-store';
import { ActivationGenerator } from '@fortellis-admin/simulator';
import { JobPublisher } from '@fortellis-admin/service-kit';
import { capturingLogger, createTestNamespace } from '@fortellis-admin/test-support';
import { buildApp } from '../src/app.ts';
import { attentionList } from '../src/domain/attention-list.ts';
import { createOperationsMetrics } from '../src/operations-metrics.ts';

const ns = createTestNamespace('ops-attention');
const VIEWER = 'viewer-Nq8Rt2Yu6Io0Pa4Sd9Fg3Hj7Kl1Zx';
let mongo: MongoClient;
let redis: Redis;
let repo: ConnectionRepository;
let publisher: JobPublisher;
let app: FastifyInstance;
const generator = new ActivationGenerator(3103);
const next = (): ActivateRequest => generator.next();
const ids: Record<string, string[]> = {};

async function received(kind: string): Promise<string> {
  const activation = next();
  await repo.recordActivation({ activation, requestId: 'r', receivedAt: new Date() });
  (ids[kind] ??= []).push(activation.connectionId);
  return activation.connectionId;
}

const decision = (action: 'approve' | 'reject' | 'review') => ({
  action,
  ruleId: 'r',
  decidedBy: 'rules',
  decidedAt: new Date(),
});

async function callback(id: string, outcome: 'failed' | 'acknowledged'): Promise<void> {
  await repo.recordDecision(id, decision('approve'), ['received']);
  const lease = await repo.acquireCallLease(id, { call: 'callback', state: 'approved' }, 10_000);
  if (lease.kind !== 'acquired') throw new Error(`no lease: ${lease.why}`);
  await repo.completeCallback(id, lease.leaseId, 'approved', {
    outcome,
    status: outcome === 'failed' ? 400 : 200,
  });
}

async function deactivatedWith(id: string, cleanup: 'done' | 'failed'): Promise<void> {
  await repo.recordDeactivation(id, { requestId: 'd', receivedAt: new Date() });
  for (const step of ['cleanup', 'deactivationReport', 'activationReport'] as const) {
    const lease = await repo.acquireCallLease(id, { call: 'step', step }, 10_000);
    if (lease.kind === 'acquired')
      await repo.completeStep(id, step, lease.leaseId, {
        status: step === 'cleanup' ? cleanup : 'done',
        httpStatus: cleanup === 'failed' && step === 'cleanup' ? 500 : 200,
      });
  }
}

beforeAll(async () => {
  mongo = new MongoClient(inject('mongoUrl'));
  await mongo.connect();
  redis = new Redis(inject('redisUrl'));
  let clock = Date.parse('2026-11-01T00:00:00Z');
  // A clock that moves a second per call keeps the order of changes strict and known.
  repo = new ConnectionRepository(
    mongo.db(ns.dbName),
    { kind: 'locked', locks: new ConnectionLocks(redis, { prefix: ns.queuePrefix }) },
    () => new Date((clock += 1000)),
  );
  publisher = new JobPublisher({ connection: redis, prefix: ns.queuePrefix });
  // What needs an operator, two held for review (the first waits longest).
  for (let i = 0; i < 2; i += 1)
    await repo.recordDecision(await received('pending_review'), decision('review'), ['received']);
  await callback(await received('callback_failed'), 'failed');
  const provisioning = await received('provisioning_failed');
  await repo.recordDecision(provisioning, decision('approve'), ['received']);
  const lease = await repo.acquireCallLease(provisioning, { call: 'provisioning' }, 10_000);
  if (lease.kind !== 'acquired') throw new Error(`no lease: ${lease.why}`);
  await repo.failProvisioning(provisioning, lease.leaseId, { httpStatus: 422, error: 'refused' });
  await deactivatedWith(await received('steps_failed'), 'failed');
  const suspending = await received('suspending');
  await callback(suspending, 'acknowledged');
  await repo.requestSuspension(suspending, { reason: 'Unpaid', by: 'ops:otto', at: new Date() });
  // What needs no one.
  await received('none');
  await callback(await received('none'), 'acknowledged');
  await deactivatedWith(await received('none'), 'done');
  app = await buildApp({
    logger: capturingLogger('operations').logger,
    metrics: createOperationsMetrics(),
    readiness: {},
    tokens: [{ name: 'vera', role: 'viewer', token: VIEWER }],
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

describe('GET /ops/attention', () => {
  it('lists what waits for an operator by kind, the longest waiting first, and nothing else', async () => {
    const response = await app.inject({
      method: 'GET',
      url: '/ops/attention',
      headers: { authorization: `Bearer ${VIEWER}` },
    });
    expect(response.statusCode).toBe(200);
    const { groups } = response.json<{
      groups: Array<{
        kind: string;
        title: string;
        more: boolean;
        connections: Array<{ connectionId: string; state: string }>;
      }>;
    }>();
    expect(groups.map((g) => g.kind)).toEqual([
      'pending_review',
      'callback_failed',
      'provisioning_failed',
      'steps_failed',
      'suspending',
    ]);
    for (const group of groups) {
      expect(
        group.connections.map((c) => c.connectionId),
        group.kind,
      ).toEqual(ids[group.kind]);
      expect(group.more).toBe(false);
      expect(group.title).not.toBe('');
    }
    expect(groups.find((g) => g.kind === 'steps_failed')?.connections[0]?.state).toBe(
      'deactivated',
    );
    const listed = groups.flatMap((g) => g.connections.map((c) => c.connectionId));
    for (const id of ids.none ?? []) expect(listed).not.toContain(id);
  });

  it('says when more wait than it lists', async () => {
    const groups = await attentionList(repo, (c) => c.connectionId, 1);
    expect(groups.find((g) => g.kind === 'pending_review')).toEqual({
      kind: 'pending_review',
      title: expect.any(String),
      connections: [ids.pending_review![0]],
      more: true,
    });
    expect(groups.find((g) => g.kind === 'suspending')?.more).toBe(false);
  });
});
