// What the parts of the connection store's contract suite share: the store under contract, fresh
// connections, and the connections most cases start from.
import { expect } from 'vitest';
import type { ActivateRequest } from '@fortellis-admin/contracts';
import type {
  AcquiredCallLease,
  CallbackDueState,
  CallLeaseAcquisition,
  CallSlot,
  Decision,
  DeprovisionStep,
} from '@fortellis-admin/connection-store';
import type { WorkerConnectionStore } from '@fortellis-admin/test-support/doubles';

/** What each part of the suite is given: the store (once opened) and fresh connections. */
export interface ContractContext {
  store(): WorkerConnectionStore;
  /** An activation with a connection id never used before in this run. */
  activation(): ActivateRequest;
}

/** A decision of the rules. */
export const decided = (action: Decision['action']): Decision => ({
  action,
  ruleId: 'default',
  decidedBy: 'rules',
  decidedAt: new Date('2026-11-25T10:00:00Z'),
});

/** An activation as the approval worker records it. */
export const received = (activation: ActivateRequest) => ({
  activation,
  requestId: 'req-1',
  receivedAt: new Date('2026-11-25T09:59:59Z'),
});

/** A connection whose `approved` callback was acknowledged, announced with it. */
export async function acceptedConnection(context: ContractContext): Promise<string> {
  const a = context.activation();
  const created = await context
    .store()
    .recordActivation(received(a), { decision: decided('approve'), callbackLeaseMs: 10_000 });
  if (created.kind !== 'created' || created.lease === undefined) throw new Error('not created');
  const ended = await context
    .store()
    .completeCallback(
      a.connectionId,
      created.lease.leaseId,
      'approved',
      { outcome: 'acknowledged', status: 200 },
      { announced: true },
    );
  if (ended?.state !== 'accepted') throw new Error('not accepted');
  return a.connectionId;
}

/** Any lease id (the real store's are random), typed for the objects it stands in. */
export const anyLeaseId = expect.any(String) as unknown as string;

/** The lease `taken` holds: the case fails when none was taken. */
export function held(taken: CallLeaseAcquisition): AcquiredCallLease {
  if (taken.kind !== 'acquired') throw new Error(`no lease: ${taken.why}`);
  return taken;
}

/** The slots of the three calls a lease guards. */
export const callbackSlot = (state: CallbackDueState): CallSlot => ({ call: 'callback', state });
export const provisioningSlot: CallSlot = { call: 'provisioning' };
export const stepSlot = (step: DeprovisionStep): CallSlot => ({ call: 'step', step });
