// The connection store's contract, the buyer's backend account: the provisioning lease taken with
// the approval, one at a time, its end taking the callback's lease in the same write, a give-up
// and an operator's reopening.
import { describe, expect, it } from 'vitest';
import {
  anyLeaseId,
  callbackSlot,
  decided,
  held,
  provisioningSlot,
  received,
  type ContractContext,
} from './store-contract-context.ts';

const sealed = { keyId: 'k1', version: 2 as const, iv: 'iv', tag: 'tag', data: 'data' };

export function provisioningContract(context: ContractContext): void {
  const store = () => context.store();
  /** A connection approved on insert with a provisioner: the provisioning lease comes with it. */
  async function approved(leaseMs = 10_000) {
    const a = context.activation();
    const created = await store().recordActivation(received(a), {
      decision: decided('approve'),
      callbackLeaseMs: 10_000,
      provisioningLeaseMs: leaseMs,
    });
    if (created.kind !== 'created' || created.lease === undefined) throw new Error('no lease');
    expect(created.leaseFor).toBe('provisioning');
    expect(created.connection).toMatchObject({
      state: 'approved',
      version: 1,
      provisioning: { attempts: 1, leaseId: created.lease.leaseId },
    });
    expect(created.connection.callback).toBeUndefined();
    return { id: a.connectionId, leaseId: created.lease.leaseId };
  }

  describe('the provisioning', () => {
    it('one lease at a time; a released one is taken again, keeping what failed', async () => {
      const { id, leaseId } = await approved();
      expect(await store().acquireCallLease(id, provisioningSlot, 10_000)).toMatchObject({
        kind: 'unavailable',
        why: 'busy',
        connection: { version: 1, provisioning: { leaseId } },
      });
      await store().releaseCallLease(id, provisioningSlot, leaseId, {
        status: 503,
        error: 'HTTP 503',
      });
      expect(await store().get(id)).toMatchObject({
        version: 2,
        provisioning: { attempts: 1, lastError: 'HTTP 503', lastStatus: 503 },
      });
      const again = await store().acquireCallLease(id, provisioningSlot, 10_000);
      expect(again).toEqual({
        kind: 'acquired',
        leaseId: anyLeaseId,
        connection: await store().get(id),
      });
      expect(await store().get(id)).toMatchObject({
        version: 3,
        provisioning: { attempts: 2, leaseId: held(again).leaseId, lastError: 'HTTP 503' },
      });
    });

    it('a lease is given back only under its own call: another call’s slot writes nothing', async () => {
      const { id, leaseId } = await approved();
      await store().releaseCallLease(id, callbackSlot('approved'), leaseId, { error: 'HTTP 503' });
      await store().releaseCallLease(id, { call: 'step', step: 'cleanup' }, leaseId, {
        error: 'HTTP 503',
      });
      const stored = await store().get(id);
      expect(stored).toMatchObject({ version: 1, provisioning: { attempts: 1, leaseId } });
      expect(stored?.provisioning?.lastError).toBeUndefined();
      expect(stored?.callback).toBeUndefined();
      expect(stored?.steps).toBeUndefined();
    });

    it('an expired lease is taken over, naming the earlier attempt’s lease', async () => {
      const { id, leaseId } = await approved(-1);
      const taken = await store().acquireCallLease(id, provisioningSlot, 10_000);
      expect(taken).toEqual({
        kind: 'acquired',
        leaseId: anyLeaseId,
        previousLeaseId: leaseId,
        connection: await store().get(id),
      });
      expect(held(taken).leaseId).not.toBe(leaseId);
    });

    it('its end records the account and takes the callback’s lease in the same write', async () => {
      const { id, leaseId } = await approved();
      const result = {
        httpStatus: 201,
        accountId: 'acct-1',
        credentials: { names: ['apiKey'], sealed },
      };
      const done = await store().completeProvisioning(id, leaseId, result, 10_000);
      if (done?.callbackLease == null) throw new Error('no callback lease');
      expect(done.connection).toMatchObject({
        state: 'approved',
        version: 2,
        provisioning: {
          status: 'done',
          attempts: 1,
          lastStatus: 201,
          accountId: 'acct-1',
          credentialNames: ['apiKey'],
          credentials: sealed,
        },
        callback: { status: 'accepted', attempts: 1, leaseId: done.callbackLease.leaseId },
      });
      expect(done.connection.provisioning?.leaseId).toBeUndefined();
      expect(done.callbackLease.leaseId).not.toBe(leaseId);
      expect(await store().get(id)).toEqual(done.connection);
      // Provisioned: no lease again, and no second end.
      expect(await store().acquireCallLease(id, provisioningSlot, 10_000)).toMatchObject({
        kind: 'unavailable',
        why: 'finished',
        connection: { state: 'approved', provisioning: { status: 'done' } },
      });
      expect(await store().completeProvisioning(id, leaseId, result, 10_000)).toBeNull();
      // The acknowledged callback drops the sealed credentials; their names stay.
      const accepted = await store().completeCallback(id, done.callbackLease.leaseId, 'approved', {
        outcome: 'acknowledged',
      });
      expect(accepted?.provisioning).toMatchObject({ status: 'done', credentialNames: ['apiKey'] });
      expect(accepted?.provisioning?.credentials).toBeUndefined();
    });

    it('no end under another lease', async () => {
      const { id } = await approved();
      expect(await store().completeProvisioning(id, 'not-the-lease', {}, 10_000)).toBeNull();
      expect(await store().failProvisioning(id, 'not-the-lease', { error: 'x' })).toBeNull();
      expect(await store().get(id)).toMatchObject({ state: 'approved', version: 1 });
    });

    it('lease ids are never reused across connections', async () => {
      const first = await approved();
      const second = await approved();
      expect(second.leaseId).not.toBe(first.leaseId);
      const done = await Promise.all(
        [first, second].map(({ id, leaseId }) =>
          store().completeProvisioning(id, leaseId, {}, 10_000),
        ),
      );
      const callbackLeases = done.map((ended) => ended?.callbackLease?.leaseId);
      expect(new Set([...callbackLeases, first.leaseId, second.leaseId]).size).toBe(4);
    });

    it('no lease for a connection not approved', async () => {
      const a = context.activation();
      await store().recordActivation(received(a));
      expect(
        await store().acquireCallLease(a.connectionId, provisioningSlot, 10_000),
      ).toMatchObject({
        kind: 'unavailable',
        why: 'moved-on',
        connection: { state: 'received', version: 1 },
      });
      const unknown = 'c0a7ac70-5707-4e00-8000-fffffffffffa';
      expect(await store().acquireCallLease(unknown, provisioningSlot, 10_000)).toEqual({
        kind: 'unavailable',
        why: 'unknown',
      });
      expect((await store().get(a.connectionId))?.provisioning).toBeUndefined();
    });

    it('a give-up ends provisioning_failed with the answer kept; an operator reopens it', async () => {
      const { id, leaseId } = await approved();
      const problems = [{ pointer: '/accountId', message: 'must be string' }];
      const failed = await store().failProvisioning(id, leaseId, {
        httpStatus: 200,
        problems,
        note: 'the answer breaks the contract',
      });
      expect(failed).toMatchObject({
        state: 'provisioning_failed',
        version: 2,
        provisioning: { status: 'failed', lastStatus: 200, response: { status: 200, problems } },
      });
      expect(failed?.provisioning?.leaseId).toBeUndefined();
      expect(await store().failProvisioning(id, leaseId, { error: 'again' })).toBeNull();
      const reopened = await store().reopenProvisioning(id, 'ops:bob');
      expect(reopened).toMatchObject({
        state: 'approved',
        version: 3,
        provisioning: { attempts: 1 },
      });
      expect(reopened?.provisioning?.status).toBeUndefined();
      expect(reopened?.provisioning?.completedAt).toBeUndefined();
      expect(reopened?.provisioning?.response).toBeUndefined();
      expect(await store().reopenProvisioning(id, 'ops:bob')).toBeNull();
      expect(await store().acquireCallLease(id, provisioningSlot, 10_000)).toMatchObject({
        kind: 'acquired',
      });
      expect((await store().get(id))?.provisioning?.attempts).toBe(2);
    });
  });
}
