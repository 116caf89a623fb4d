// Every operation the services perform on the connections collection, driven through the
// repository: what the tests that watch the commands on the wire (the indexes they need, the
// concerns they carry) run.
import type { ActivateRequest } from '@fortellis-admin/contracts';
import {
  ATTENTION_KINDS,
  type ConnectionFilter,
  type ConnectionRepository,
} from '@fortellis-admin/connection-store';
import { activations, approvedByRules } from './real-store.ts';

const received = (a: ActivateRequest) => ({
  activation: a,
  requestId: 'r',
  receivedAt: new Date(),
});

/**
 * Runs every operation of `repo`: an activation decided on insert, called back, announced,
 * deactivated and deprovisioned; one decided later, reviewed and reopened; a tombstone; and the
 * reconciler's and the operators' reads. `idPrefix` keeps its connections apart (24 characters of
 * a GUID, with the dashes).
 */

export async function everyOperation(repo: ConnectionRepository, idPrefix: string): Promise<void> {
  const activation = activations(idPrefix);
  const approve = approvedByRules();
  // An activation decided on insert, called back, announced, deactivated and deprovisioned.
  const a = activation();
  const created = await repo.recordActivation(received(a), approve);
  if (created.kind !== 'created' || created.lease === undefined) throw new Error('not created');
  const approvedCallback = { call: 'callback', state: 'approved' } as const;
  await repo.releaseCallLease(a.connectionId, approvedCallback, created.lease.leaseId, {
    error: 'HTTP 503',
  });
  const lease = await repo.acquireCallLease(a.connectionId, approvedCallback, 10_000);
  if (lease.kind !== 'acquired') throw new Error(`no callback lease: ${lease.why}`);
  await repo.completeCallback(a.connectionId, lease.leaseId, 'approved', {
    outcome: 'acknowledged',
  });
  await repo.markAcceptanceAnnounced(a.connectionId);
  const deactivated = await repo.recordDeactivation(
    a.connectionId,
    { requestId: 'd', receivedAt: new Date() },
    { cleanupLeaseMs: 10_000 },
  );
  const { nextLease } = await repo.completeStepThenLease(
    a.connectionId,
    'cleanup',
    deactivated.cleanupLease!.leaseId,
    { status: 'failed', httpStatus: 500 },
    { step: 'deactivationReport', leaseMs: 10_000 },
  );
  const report = { call: 'step', step: 'deactivationReport' } as const;
  await repo.releaseCallLease(a.connectionId, report, nextLease!.leaseId, { error: 'HTTP 503' });
  await repo.reopenFailedSteps(a.connectionId, 'operator');
  const step = await repo.acquireCallLease(
    a.connectionId,
    { call: 'step', step: 'cleanup' },
    10_000,
  );
  if (step.kind === 'acquired')
    await repo.completeStep(a.connectionId, 'cleanup', step.leaseId, { status: 'done' });
  await repo.completeStep(a.connectionId, 'activationReport', null, { status: 'skipped' });
  // An activation decided later (held, reviewed), a failed callback reopened, a repeat, a tombstone.
  const b = activation();
  await repo.recordActivation(received(b));
  await repo.recordDecision(
    b.connectionId,
    { action: 'review', ruleId: 'r', decidedBy: 'rules', decidedAt: new Date() },
    ['received'],
  );
  await repo.recordReviewRequest(b.connectionId, { action: 'reject', by: 'op', at: new Date() });
  await repo.recordDecision(
    b.connectionId,
    { action: 'reject', ruleId: 'operator', decidedBy: 'op', decidedAt: new Date() },
    ['pending_review'],
  );
  const rejectedCallback = { call: 'callback', state: 'rejected' } as const;
  const rejectLease = await repo.acquireCallLease(b.connectionId, rejectedCallback, 10_000);
  if (rejectLease.kind !== 'acquired') throw new Error(`no callback lease: ${rejectLease.why}`);
  await repo.completeCallback(b.connectionId, rejectLease.leaseId, 'rejected', {
    outcome: 'failed',
    status: 400,
  });
  await repo.reopenCallback(b.connectionId, 'op');
  await repo.recordOperatorAction(b.connectionId, { event: 'note', by: 'op' }, ['rejected']);
  await repo.recordActivation(received(b));
  const c = activation();
  await repo.recordDeactivation(c.connectionId, { requestId: 'd', receivedAt: new Date() });
  await repo.recordActivation(received(c));
  // The reconciler's and the operators' reads.
  await repo.findStalled('approval', new Date(), 10);
  await repo.findStalled('deprovision', new Date(), 10);
  await repo.oldestWaiting(['received', 'pending_review', 'approved', 'rejected']);
  for (const kind of ATTENTION_KINDS) await repo.needingAttention(kind, 10);
  const page = await repo.list({}, 1);
  const cursor = { createdAt: page[0]!.createdAt, id: page[0]!._id };
  const filters: ConnectionFilter[] = [
    {},
    { state: 'accepted' },
    { subscriptionId: a.subscriptionId },
    { organizationId: a.organizationInfo.id },
    { apiId: a.apiInfo.id },
  ];
  for (const filter of filters) {
    await repo.list(filter, 5);
    await repo.list(filter, 5, cursor);
  }
  await repo.get(a.connectionId);
}
