// The contract of the connection store, as the workers' use cases rely on it: one suite, run
// against the MongoDB repository (real-store-contract.test.ts) and against the in-memory store the
// unit tests use (memory-store-contract.test.ts), so the two cannot drift apart. It covers the
// writes and their conditions, never the history (the in-memory store keeps none).
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppError, ERROR_CODES, type ActivateRequest } from '@fortellis-admin/contracts';
import { getOrThrow } from '@fortellis-admin/connection-store';
import {
  tutorialCurlPayload,
  type WorkerConnectionStore,
} from '@fortellis-admin/test-support/doubles';
import {
  acceptedConnection,
  decided,
  received,
  type ContractContext,
} from './store-contract-context.ts';
import { deprovisionContract } from './store-contract-deprovision.ts';
import { provisioningContract } from './store-contract-provisioning.ts';
import { callbackContract } from './store-contract-callback.ts';

/** A store under contract, and how to let it go. */
export interface ContractSubject {
  store: WorkerConnectionStore;
  close(): Promise<void>;
}

/**
 * Describes the contract for the store `open` gives (once, before the suite; closed after it).
 * `name` tells the runs apart. Connections get ids of their own, so one store serves every case.
 */
export function describeConnectionStoreContract(
  name: string,
  open: () => Promise<ContractSubject>,
): void {
  describe(`the connection store contract (${name})`, () => {
    let subject: ContractSubject | undefined;
    beforeAll(async () => {
      subject = await open();
    });
    afterAll(() => subject?.close());
    let counter = 0;
    const context: ContractContext = {
      store: () => {
        if (subject === undefined) throw new Error('the store under contract is not open');
        return subject.store;
      },
      activation: () => {
        counter += 1;
        const activation: ActivateRequest = structuredClone(tutorialCurlPayload);
        activation.connectionId = `c0a7ac70-5707-4e00-8000-${counter.toString(16).padStart(12, '0')}`;
        return activation;
      },
    };
    activationContract(context);
    callbackContract(context);
    provisioningContract(context);
    deprovisionContract(context);
    stalledContract(context);
  });
}

/** Storing an activation once, deciding it, and reading it back. */
function activationContract(context: ContractContext): void {
  const store = () => context.store();
  describe('activations and decisions', () => {
    it('stores an activation once, keyed case-insensitively; a repeat finds it', async () => {
      const a = context.activation();
      const created = await store().recordActivation(received(a));
      expect(created).toMatchObject({ kind: 'created', connection: { state: 'received' } });
      expect(created.connection.version).toBe(1);
      expect('lease' in created).toBe(false);
      const upper = { ...a, connectionId: a.connectionId.toUpperCase() };
      expect((await store().recordActivation(received(upper))).kind).toBe('existing');
      const stored = await store().get(upper.connectionId);
      expect(stored).toMatchObject({
        _id: a.connectionId.toLowerCase(),
        connectionId: a.connectionId,
        subscriptionId: a.subscriptionId,
        activation: a,
        version: 1,
      });
    });

    it.each([
      ['approve', 'approved', 'accepted'],
      ['reject', 'rejected', 'rejected'],
    ] as const)(
      'a %s decided on insert takes the callback lease with the insert',
      async (action, state, status) => {
        const a = context.activation();
        const created = await store().recordActivation(received(a), {
          decision: decided(action),
          callbackLeaseMs: 10_000,
        });
        if (created.kind !== 'created' || created.lease === undefined) throw new Error('no lease');
        expect(created.leaseFor).toBe('callback');
        expect(created.connection).toMatchObject({
          state,
          version: 1,
          decision: { action },
          callback: { status, attempts: 1, leaseId: created.lease.leaseId },
        });
        expect(created.connection.callback?.leaseUntil?.getTime()).toBeGreaterThan(Date.now());
        expect(await store().get(a.connectionId)).toEqual(created.connection);
      },
    );

    it('a review decided on insert holds the connection, with no lease', async () => {
      const created = await store().recordActivation(received(context.activation()), {
        decision: decided('review'),
        callbackLeaseMs: 10_000,
      });
      expect(created).toMatchObject({ kind: 'created', connection: { state: 'pending_review' } });
      expect('lease' in created).toBe(false);
      expect(created.connection.callback).toBeUndefined();
    });

    it('decides a received connection once; a second decision is refused', async () => {
      const a = context.activation();
      await store().recordActivation(received(a));
      const approved = await store().recordDecision(a.connectionId, decided('approve'), [
        'received',
      ]);
      expect(approved).toMatchObject({
        state: 'approved',
        version: 2,
        decision: { action: 'approve' },
      });
      expect(
        await store().recordDecision(a.connectionId, decided('reject'), ['received']),
      ).toBeNull();
      expect(
        await store().recordDecision('c0a7ac70-5707-4e00-8000-ffffffffffff', decided('approve'), [
          'received',
        ]),
      ).toBeNull();
    });

    it('refuses a decision from a state the state machine does not lead from, even when named', async () => {
      const a = context.activation();
      await store().recordActivation(received(a), {
        decision: decided('approve'),
        callbackLeaseMs: 10_000,
      });
      expect(
        await store().recordDecision(a.connectionId, decided('approve'), ['approved']),
      ).toBeNull();
      expect((await store().get(a.connectionId))?.callback?.attempts).toBe(1);
    });

    it('an operator decides a held connection', async () => {
      const a = context.activation();
      await store().recordActivation(received(a), {
        decision: decided('review'),
        callbackLeaseMs: 1,
      });
      const decision = { ...decided('reject'), decidedBy: 'ops:alice', ruleId: 'operator' };
      const rejected = await store().recordDecision(a.connectionId, decision, [
        'received',
        'pending_review',
      ]);
      expect(rejected).toMatchObject({ state: 'rejected', decision: { decidedBy: 'ops:alice' } });
      expect(rejected?.callback).toBeUndefined();
    });

    it('an activation of a deactivated connection is stale; a tombstone keeps it, inert', async () => {
      const a = context.activation();
      const tombstone = await store().recordDeactivation(a.connectionId, {
        requestId: 'req-d',
        receivedAt: new Date(),
      });
      expect(tombstone).toMatchObject({
        changed: true,
        connection: { state: 'deactivated', tombstone: true, version: 1 },
      });
      const stale = await store().recordActivation(received(a), {
        decision: decided('approve'),
        callbackLeaseMs: 10_000,
      });
      expect(stale).toMatchObject({
        kind: 'stale',
        connection: { state: 'deactivated', activation: a, version: 2 },
      });
      expect(stale.connection.callback).toBeUndefined();
      expect((await store().recordActivation(received(a))).kind).toBe('stale');
      expect((await store().get(a.connectionId))?.version).toBe(2);
    });

    it('marks an acceptance announced without moving the version', async () => {
      const a = context.activation();
      await store().recordActivation(received(a));
      await store().markAcceptanceAnnounced(a.connectionId);
      expect(await store().get(a.connectionId)).toMatchObject({
        acceptanceAnnounced: true,
        version: 1,
      });
      await store().markAcceptanceAnnounced('c0a7ac70-5707-4e00-8000-fffffffffffe');
    });

    it('getOrThrow of a connection never stored fails for good', async () => {
      const error = await getOrThrow(store(), 'c0a7ac70-5707-4e00-8000-fffffffffffd').catch(
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(AppError);
      expect(error).toMatchObject({ code: ERROR_CODES.notFound, permanent: true });
    });
  });
}

/** The reconciler's candidates: per worker, the connections that need its work. */
function stalledContract(context: ContractContext): void {
  const store = () => context.store();
  describe('stalled connections', () => {
    it('finds, for each worker, the connections needing its work, oldest change first', async () => {
      // Apart by a few milliseconds each, so that their order is the order of their changes.
      const held = context.activation();
      await store().recordActivation(received(held));
      await delay(5);
      const accepted = await acceptedConnection(context);
      await delay(5);
      const unannounced = context.activation();
      const created = await store().recordActivation(received(unannounced), {
        decision: decided('approve'),
        callbackLeaseMs: 10_000,
      });
      if (created.kind !== 'created' || created.lease === undefined) throw new Error('no lease');
      await store().completeCallback(unannounced.connectionId, created.lease.leaseId, 'approved', {
        outcome: 'acknowledged',
      });
      await delay(5);
      const deactivated = await acceptedConnection(context);
      await store().recordDeactivation(deactivated, { requestId: 'd', receivedAt: new Date() });
      const ours = new Set(
        [held.connectionId, accepted, unannounced.connectionId, deactivated].map((id) =>
          id.toLowerCase(),
        ),
      );
      const stalled = async (work: 'approval' | 'deprovision', since: Date) =>
        (await store().findStalled(work, since, 10_000))
          .map((doc) => doc._id)
          .filter((id) => ours.has(id));
      const later = new Date(Date.now() + 60_000);
      expect(await stalled('approval', later)).toEqual(
        [held.connectionId, unannounced.connectionId].map((id) => id.toLowerCase()),
      );
      expect(await stalled('deprovision', later)).toEqual([deactivated.toLowerCase()]);
      expect(await stalled('approval', new Date(Date.now() - 60_000))).toEqual([]);
    });
  });
}
