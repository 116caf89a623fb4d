// The connection store's contract, deactivations and their steps: the deactivation recorded once
// (with the clean-up's lease for an accepted connection), each step's lease, failed attempts, end
// (and the next step's lease in the same write), an operator's reopening.
import { describe, expect, it } from 'vitest';
import {
  acceptedConnection,
  anyLeaseId,
  held,
  received,
  stepSlot,
  type ContractContext,
} from './store-contract-context.ts';

const deactivation = () => ({ requestId: 'req-d', receivedAt: new Date('2026-11-25T11:00:00Z') });

export function deprovisionContract(context: ContractContext): void {
  const store = () => context.store();
  /** An accepted connection deactivated, the clean-up's lease taken with it. */
  async function deactivated() {
    const id = await acceptedConnection(context);
    const recorded = await store().recordDeactivation(id, deactivation(), {
      cleanupLeaseMs: 10_000,
    });
    if (recorded.cleanupLease === undefined) throw new Error('no clean-up lease');
    return { id, leaseId: recorded.cleanupLease.leaseId, version: recorded.connection.version };
  }
  /** A connection deactivated before any step was attempted. */
  async function deactivatedWithoutLease() {
    const a = context.activation();
    await store().recordActivation(received(a));
    const recorded = await store().recordDeactivation(a.connectionId, deactivation(), {
      cleanupLeaseMs: 10_000,
    });
    expect(recorded).toMatchObject({ changed: true, connection: { state: 'deactivated' } });
    expect(recorded.cleanupLease).toBeUndefined();
    expect(recorded.connection.steps).toBeUndefined();
    return a.connectionId;
  }

  describe('deactivations', () => {
    it('an accepted connection takes the clean-up’s lease with its deactivation; a repeat changes nothing', async () => {
      const id = await acceptedConnection(context);
      const version = (await store().get(id))?.version ?? 0;
      const recorded = await store().recordDeactivation(id, deactivation(), {
        cleanupLeaseMs: 10_000,
      });
      expect(recorded).toMatchObject({
        changed: true,
        cleanupLease: { leaseId: anyLeaseId },
        connection: {
          state: 'deactivated',
          version: version + 1,
          deactivation: { requestId: 'req-d' },
          steps: { cleanup: { attempts: 1, leaseId: recorded.cleanupLease?.leaseId } },
        },
      });
      expect(recorded.connection.deactivation?.recordedAt).toBeInstanceOf(Date);
      const repeat = await store().recordDeactivation(id, deactivation(), { cleanupLeaseMs: 1 });
      expect(repeat).toEqual({ connection: recorded.connection, changed: false });
    });

    it('any other connection is deactivated without a lease', async () => {
      const id = await deactivatedWithoutLease();
      expect((await store().get(id))?.version).toBe(2);
    });
  });

  describe('deprovision steps', () => {
    it('a step’s lease: taken once, busy while live, finished once ended, unknown for no connection', async () => {
      const id = await deactivatedWithoutLease();
      const lease = held(await store().acquireCallLease(id, stepSlot('cleanup'), 10_000));
      expect(lease.previousLeaseId).toBeUndefined();
      expect(lease.connection).toMatchObject({
        version: 3,
        steps: { cleanup: { attempts: 1, leaseId: lease.leaseId } },
      });
      expect(lease.connection).toEqual(await store().get(id));
      expect(await store().acquireCallLease(id, stepSlot('cleanup'), 10_000)).toMatchObject({
        kind: 'unavailable',
        why: 'busy',
        connection: { version: 3, steps: { cleanup: { leaseId: lease.leaseId } } },
      });
      expect(await store().completeStep(id, 'cleanup', lease.leaseId, { status: 'done' })).toBe(
        true,
      );
      expect(await store().acquireCallLease(id, stepSlot('cleanup'), 10_000)).toMatchObject({
        kind: 'unavailable',
        why: 'finished',
        connection: { steps: { cleanup: { status: 'done', attempts: 1 } } },
      });
      const unknown = 'c0a7ac70-5707-4e00-8000-fffffffffff9';
      expect(await store().acquireCallLease(unknown, stepSlot('cleanup'), 10_000)).toEqual({
        kind: 'unavailable',
        why: 'unknown',
      });
    });

    it('an expired step lease is taken over, naming the earlier attempt’s lease', async () => {
      const id = await deactivatedWithoutLease();
      const earlier = held(await store().acquireCallLease(id, stepSlot('deactivationReport'), -1));
      const taken = await store().acquireCallLease(id, stepSlot('deactivationReport'), 10_000);
      expect(taken).toMatchObject({ kind: 'acquired', previousLeaseId: earlier.leaseId });
      expect(held(taken).leaseId).not.toBe(earlier.leaseId);
    });

    it('a released step keeps what failed and is taken again', async () => {
      const { id, leaseId, version } = await deactivated();
      await store().releaseCallLease(id, stepSlot('cleanup'), leaseId, {
        status: 503,
        error: 'HTTP 503',
      });
      await store().releaseCallLease(id, stepSlot('cleanup'), 'not-the-lease', {
        error: 'ignored',
      });
      const released = await store().get(id);
      expect(released).toMatchObject({
        version: version + 1,
        steps: { cleanup: { attempts: 1, lastError: 'HTTP 503', lastStatus: 503 } },
      });
      expect(released?.steps?.cleanup?.leaseId).toBeUndefined();
      const again = await store().acquireCallLease(id, stepSlot('cleanup'), 10_000);
      expect(again).toMatchObject({
        kind: 'acquired',
        connection: { steps: { cleanup: { attempts: 2 } } },
      });
      expect(again).not.toHaveProperty('previousLeaseId');
    });

    it('a step ends only under its lease; without a lease, only a step never ended', async () => {
      const { id, leaseId } = await deactivated();
      const failed = {
        status: 'failed',
        httpStatus: 500,
        body: 'oops',
        error: 'HTTP 500',
      } as const;
      expect(await store().completeStep(id, 'cleanup', 'not-the-lease', failed)).toBe(false);
      expect(await store().completeStep(id, 'cleanup', leaseId, failed)).toBe(true);
      expect(await store().completeStep(id, 'cleanup', leaseId, { status: 'done' })).toBe(false);
      expect(await store().completeStep(id, 'cleanup', null, { status: 'done' })).toBe(false);
      const skipped = { status: 'skipped', note: 'nothing to report' } as const;
      expect(await store().completeStep(id, 'activationReport', null, skipped)).toBe(true);
      expect(await store().completeStep(id, 'activationReport', null, skipped)).toBe(false);
      const stored = await store().get(id);
      expect(stored?.steps?.cleanup).toMatchObject({
        status: 'failed',
        attempts: 1,
        lastStatus: 500,
        lastError: 'HTTP 500',
        response: { status: 500, body: 'oops' },
      });
      expect(stored?.steps?.cleanup?.leaseId).toBeUndefined();
      expect(stored?.steps?.activationReport).toMatchObject({
        status: 'skipped',
        note: 'nothing to report',
      });
      expect(stored?.steps?.activationReport?.attempts).toBeUndefined();
    });

    it('a step’s end takes the next step’s lease in the same write, for a step never attempted', async () => {
      const { id, leaseId, version } = await deactivated();
      const next = { step: 'deactivationReport', leaseMs: 10_000 } as const;
      const ended = await store().completeStepThenLease(
        id,
        'cleanup',
        leaseId,
        { status: 'done' },
        next,
      );
      expect(ended).toEqual({ completed: true, nextLease: { leaseId: anyLeaseId } });
      expect(await store().get(id)).toMatchObject({
        version: version + 1,
        steps: {
          cleanup: { status: 'done' },
          deactivationReport: { attempts: 1, leaseId: ended.nextLease?.leaseId },
        },
      });
      const again = await store().completeStepThenLease(
        id,
        'cleanup',
        leaseId,
        { status: 'done' },
        next,
      );
      expect(again).toEqual({ completed: false, nextLease: null });
    });

    it('a step’s end leaves a next step already attempted to its own lease', async () => {
      const { id, leaseId } = await deactivated();
      const report = held(
        await store().acquireCallLease(id, stepSlot('deactivationReport'), 10_000),
      );
      const next = { step: 'deactivationReport', leaseMs: 10_000 } as const;
      const ended = await store().completeStepThenLease(
        id,
        'cleanup',
        leaseId,
        { status: 'done' },
        next,
      );
      expect(ended).toEqual({ completed: true, nextLease: null });
      expect((await store().get(id))?.steps?.deactivationReport?.leaseId).toBe(report.leaseId);
    });

    it('an operator reopens the failed steps, keeping their attempts', async () => {
      const { id, leaseId } = await deactivated();
      await store().completeStep(id, 'cleanup', leaseId, { status: 'failed', httpStatus: 409 });
      await store().completeStep(id, 'activationReport', null, { status: 'skipped' });
      const version = (await store().get(id))?.version ?? 0;
      expect(await store().reopenFailedSteps(id, 'ops:bob')).toEqual(['cleanup']);
      const reopened = await store().get(id);
      expect(reopened).toMatchObject({ version: version + 1, steps: { cleanup: { attempts: 1 } } });
      expect(reopened?.steps?.cleanup?.status).toBeUndefined();
      expect(reopened?.steps?.cleanup?.completedAt).toBeUndefined();
      expect(reopened?.steps?.cleanup?.response).toBeUndefined();
      expect(reopened?.steps?.activationReport?.status).toBe('skipped');
      expect(await store().reopenFailedSteps(id, 'ops:bob')).toEqual([]);
      expect(await store().acquireCallLease(id, stepSlot('cleanup'), 10_000)).toMatchObject({
        kind: 'acquired',
      });
    });
  });
}
