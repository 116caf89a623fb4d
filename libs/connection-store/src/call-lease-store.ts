// The lease of every outside call, taken and given back one way whichever call it guards (the
// callback, the provisioning, a deprovision step: call-slot.ts): a read and a write under the
// connection's lock. How each call ends is its own store's (callback-store.ts, ...).
import { randomUUID } from 'node:crypto';
import {
  failedAttemptEvent,
  leaseRefusal,
  slotLeaseFields,
  slotPath,
  slotRecord,
  type CallLeaseAcquisition,
  type CallSlot,
} from './call-slot.ts';
import type { ConnectionCollection } from './connection-collection.ts';
import {
  acquired,
  acquireLease,
  holdsLease,
  leaseIsLive,
  releaseLease,
} from './outside-call-lease.ts';

/** The one lease interface: `acquireCallLease` and `releaseCallLease`, addressed by `CallSlot`. */
export class CallLeaseStore {
  readonly #c: ConnectionCollection;

  constructor(connections: ConnectionCollection) {
    this.#c = connections;
  }

  /**
   * Takes the exclusive right to make the slot's call for `leaseMs`, counting the attempt. Returns
   * the lease (and the expired lease of an earlier attempt that never ended, whose outcome the
   * caller must look up before calling again), or why there is none: see `UnavailableCallLease`.
   */
  acquireCallLease(
    connectionId: string,
    slot: CallSlot,
    leaseMs: number,
  ): Promise<CallLeaseAcquisition> {
    return this.#c.withLock(connectionId, async () => {
      const now = this.#c.now();
      const current = await this.#c.get(connectionId);
      if (current === null) return { kind: 'unavailable', why: 'unknown' };
      const refusal = leaseRefusal(current, slot);
      if (refusal !== null) return { kind: 'unavailable', why: refusal, connection: current };
      const record = slotRecord(current, slot);
      if (leaseIsLive(record, now))
        return { kind: 'unavailable', why: 'busy', connection: current };
      const leaseId = randomUUID();
      const updated = await this.#c.apply(
        current,
        acquireLease(slotPath(slot), { leaseId, now, leaseMs }, slotLeaseFields(slot)),
      );
      return updated === null
        ? { kind: 'unavailable', why: 'busy', connection: current }
        : { kind: 'acquired', connection: updated, ...acquired(leaseId, record) };
    });
  }

  /**
   * Gives the lease back after a failed attempt, recording what went wrong in the record and in
   * the history (counted into an earlier entry when it repeats one). A read and a write under the
   * connection's lock, only while `leaseId` is held: a holder whose lease has gone writes nothing.
   */
  async releaseCallLease(
    connectionId: string,
    slot: CallSlot,
    leaseId: string,
    attempt: { status?: number; error: string },
  ): Promise<void> {
    await this.#c.withLock(connectionId, async () => {
      const current = await this.#c.get(connectionId);
      if (current === null || !holdsLease(slotRecord(current, slot), leaseId)) return;
      const update = releaseLease(
        slotPath(slot),
        attempt,
        this.#c.now(),
        failedAttemptEvent(slot),
        current.history,
      );
      await this.#c.apply(current, update);
    });
  }
}
