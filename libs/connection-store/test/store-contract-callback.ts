// The connection store's contract, its Fortellis callback: one lease at a time, a failed attempt
// given back, the end written only under the lease, an operator's reopening.
import { describe, expect, it } from 'vitest';
import {
  anyLeaseId,
  callbackSlot,
  decided,
  held,
  received,
  type ContractContext,
} from './store-contract-context.ts';

export function callbackContract(context: ContractContext): void {
  const store = () => context.store();
  /** A connection approved on insert, with the callback's lease taken for `leaseMs`. */
  async function approved(leaseMs = 10_000, action: 'approve' | 'reject' = 'approve') {
    const a = context.activation();
    const created = await store().recordActivation(received(a), {
      decision: decided(action),
      callbackLeaseMs: leaseMs,
    });
    if (created.kind !== 'created' || created.lease === undefined) throw new Error('no lease');
    return { id: a.connectionId, leaseId: created.lease.leaseId };
  }

  describe('the callback', () => {
    it('one lease at a time: a live one refuses, a released one is taken again', async () => {
      const { id, leaseId } = await approved();
      expect(await store().acquireCallLease(id, callbackSlot('approved'), 10_000)).toMatchObject({
        kind: 'unavailable',
        why: 'busy',
        connection: { version: 1, callback: { leaseId } },
      });
      await store().releaseCallLease(id, callbackSlot('approved'), leaseId, {
        status: 503,
        error: 'HTTP 503',
      });
      const released = await store().get(id);
      expect(released).toMatchObject({
        state: 'approved',
        version: 2,
        callback: { attempts: 1, lastError: 'HTTP 503', lastStatus: 503 },
      });
      expect(released?.callback?.leaseId).toBeUndefined();
      expect(released?.callback?.leaseUntil).toBeUndefined();
      const again = await store().acquireCallLease(id, callbackSlot('approved'), 10_000);
      expect(again).toEqual({
        kind: 'acquired',
        leaseId: anyLeaseId,
        connection: await store().get(id),
      });
      expect(held(again).leaseId).not.toBe(leaseId);
      expect(await store().get(id)).toMatchObject({
        version: 3,
        callback: {
          status: 'accepted',
          attempts: 2,
          leaseId: held(again).leaseId,
          lastError: 'HTTP 503',
        },
      });
    });

    it('an expired lease is taken over, naming the earlier attempt’s lease', async () => {
      const { id, leaseId } = await approved(-1);
      const taken = await store().acquireCallLease(id, callbackSlot('approved'), 10_000);
      expect(taken).toEqual({
        kind: 'acquired',
        leaseId: anyLeaseId,
        previousLeaseId: leaseId,
        connection: await store().get(id),
      });
      expect((await store().get(id))?.callback?.attempts).toBe(2);
    });

    it('no lease for another state than the connection’s, nor for a connection never stored', async () => {
      const { id } = await approved(-1);
      for (const state of ['rejected', 'suspending'] as const)
        expect(await store().acquireCallLease(id, callbackSlot(state), 10_000)).toMatchObject({
          kind: 'unavailable',
          why: 'moved-on',
          connection: { state: 'approved', version: 1 },
        });
      const unknown = 'c0a7ac70-5707-4e00-8000-fffffffffffc';
      expect(await store().acquireCallLease(unknown, callbackSlot('approved'), 10_000)).toEqual({
        kind: 'unavailable',
        why: 'unknown',
      });
      expect((await store().get(id))?.version).toBe(1);
    });

    it('a release without the lease changes nothing', async () => {
      const { id, leaseId } = await approved();
      await store().releaseCallLease(id, callbackSlot('approved'), 'not-the-lease', {
        error: 'HTTP 503',
      });
      expect(await store().get(id)).toMatchObject({ version: 1, callback: { leaseId } });
    });

    it('acknowledged under the lease: accepted, announced in the same write, once', async () => {
      const { id, leaseId } = await approved();
      const ended = await store().completeCallback(
        id,
        leaseId,
        'approved',
        { outcome: 'acknowledged', status: 200 },
        { announced: true },
      );
      expect(ended).toMatchObject({
        state: 'accepted',
        version: 2,
        acceptanceAnnounced: true,
        callback: { outcome: 'acknowledged', lastStatus: 200, attempts: 1 },
      });
      expect(ended?.acceptedAt).toBeInstanceOf(Date);
      expect(ended?.callback?.completedAt).toBeInstanceOf(Date);
      expect(ended?.callback?.leaseId).toBeUndefined();
      expect(ended?.callback?.response).toBeUndefined();
      expect(await store().get(id)).toEqual(ended);
      const again = { outcome: 'acknowledged' } as const;
      expect(await store().completeCallback(id, leaseId, 'approved', again)).toBeNull();
    });

    it('no end under another lease, nor from another state', async () => {
      const { id, leaseId } = await approved();
      const end = { outcome: 'acknowledged' } as const;
      expect(await store().completeCallback(id, 'not-the-lease', 'approved', end)).toBeNull();
      expect(await store().completeCallback(id, leaseId, 'rejected', end)).toBeNull();
      expect(await store().get(id)).toMatchObject({ state: 'approved', version: 1 });
    });

    it('a refused callback ends callback_failed with the answer kept; an operator reopens it', async () => {
      const { id, leaseId } = await approved(10_000, 'reject');
      const body = '{"message":"bad status"}';
      const failed = await store().completeCallback(id, leaseId, 'rejected', {
        outcome: 'failed',
        status: 400,
        body,
        error: 'HTTP 400',
      });
      expect(failed).toMatchObject({
        state: 'callback_failed',
        version: 2,
        callback: {
          status: 'rejected',
          outcome: 'failed',
          lastStatus: 400,
          lastError: 'HTTP 400',
          response: { status: 400, body },
        },
      });
      const reopened = await store().reopenCallback(id, 'ops:bob');
      expect(reopened).toMatchObject({ state: 'rejected', version: 3, callback: { attempts: 1 } });
      expect(reopened?.callback?.outcome).toBeUndefined();
      expect(reopened?.callback?.completedAt).toBeUndefined();
      expect(reopened?.callback?.response).toBeUndefined();
      expect(await store().reopenCallback(id, 'ops:bob')).toBeNull();
      expect(await store().acquireCallLease(id, callbackSlot('rejected'), 10_000)).toMatchObject({
        kind: 'acquired',
        connection: { state: 'rejected', callback: { status: 'rejected', attempts: 2 } },
      });
      expect((await store().get(id))?.callback?.attempts).toBe(2);
    });

    it('only a failed callback is reopened', async () => {
      const { id } = await approved();
      expect(await store().reopenCallback(id, 'ops:bob')).toBeNull();
      expect(
        await store().reopenCallback('c0a7ac70-5707-4e00-8000-fffffffffffb', 'ops:bob'),
      ).toBeNull();
    });

    it('lease ids are never reused, across connections or attempts', async () => {
      const first = await approved(-1);
      const second = await approved(-1);
      const third = held(
        await store().acquireCallLease(first.id, callbackSlot('approved'), 10_000),
      );
      const ids = [first.leaseId, second.leaseId, third.leaseId];
      expect(new Set(ids).size).toBe(3);
    });
  });
}
