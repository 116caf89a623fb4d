// The in-memory store's writes of a deactivation and its deprovision steps' ends, with the real
// store's conditions (libs/connection-store/src/deprovision-store.ts).
import {
  connectionKey,
  deactivationChanges,
  failedSteps,
  holdsLease,
  type ConnectionDocument,
  type ConnectionRepository,
  type DeprovisionStep,
  type StepEnd,
  type StepRecord,
} from '@fortellis-admin/connection-store';
import { MemoryConnections, reopenCall } from './memory-connections.ts';

/** The deprovision worker's writes over the connections in memory. */
export class MemoryDeprovisionWrites extends MemoryConnections {
  recordDeactivation: ConnectionRepository['recordDeactivation'] = async (
    id,
    deactivation,
    options = {},
  ) => {
    const key = connectionKey(id);
    const existing = this.docs.get(key);
    const recorded = { ...deactivation, recordedAt: this.now() };
    if (existing === undefined) {
      const tombstone: ConnectionDocument = {
        _id: key,
        connectionId: id,
        state: 'deactivated',
        version: 1,
        tombstone: true,
        deactivation: recorded,
        history: [],
        createdAt: this.now(),
        updatedAt: this.now(),
      };
      this.docs.set(key, tombstone);
      return { connection: structuredClone(tombstone), changed: true };
    }
    if (!deactivationChanges(existing))
      return { connection: structuredClone(existing), changed: false };
    // An accepted connection deactivated once takes the clean-up's lease in the same write.
    const leaseMs =
      existing.state === 'accepted' && existing.steps === undefined
        ? options.cleanupLeaseMs
        : undefined;
    existing.state = 'deactivated';
    existing.deactivation = recorded;
    delete existing.provisioning?.credentials;
    const cleanupLease =
      leaseMs === undefined ? undefined : this.takeLease(existing, 'cleanup', leaseMs);
    const connection = this.changed(existing);
    return cleanupLease === undefined
      ? { connection, changed: true }
      : { connection, changed: true, cleanupLease };
  };

  completeStep: ConnectionRepository['completeStep'] = async (id, step, leaseId, result) => {
    const doc = this.docs.get(connectionKey(id));
    if (doc === undefined || !this.#mayEnd(doc, step, leaseId)) return false;
    this.#endStep(doc, step, result);
    this.changed(doc);
    return true;
  };

  completeStepThenLease: ConnectionRepository['completeStepThenLease'] = async (
    id,
    step,
    leaseId,
    result,
    next,
  ) => {
    const doc = this.docs.get(connectionKey(id));
    if (doc === undefined || !this.#mayEnd(doc, step, leaseId))
      return { completed: false, nextLease: null };
    this.#endStep(doc, step, result);
    // The next step's lease comes with this write only for a step never attempted.
    const nextLease =
      doc.steps?.[next.step] === undefined ? this.takeLease(doc, next.step, next.leaseMs) : null;
    this.changed(doc);
    return { completed: true, nextLease };
  };

  reopenFailedSteps: ConnectionRepository['reopenFailedSteps'] = async (id) => {
    const doc = this.docs.get(connectionKey(id));
    const failed = failedSteps(doc ?? null);
    if (doc === undefined || failed.length === 0) return [];
    for (const step of failed) {
      const record = doc.steps?.[step];
      if (record !== undefined) reopenCall(record, 'status');
    }
    this.changed(doc);
    return failed;
  };

  /** Who may end a step: the holder of its lease, or anyone for a step never ended (no lease). */
  #mayEnd(doc: ConnectionDocument, step: DeprovisionStep, leaseId: string | null): boolean {
    const record = doc.steps?.[step];
    return leaseId === null ? record?.status === undefined : holdsLease(record, leaseId);
  }

  #endStep(doc: ConnectionDocument, step: DeprovisionStep, result: StepEnd): void {
    this.stepEnds.push({ step, ...result });
    // A step ended without an attempt has no `attempts`, as in the real store (its `$set` of the
    // end creates the record).
    const record = { ...doc.steps?.[step], status: result.status } as StepRecord;
    if (result.note !== undefined) record.note = result.note;
    this.endCall(record, {
      httpStatus: result.httpStatus,
      error: result.error,
      body: result.body,
      failed: result.status === 'failed',
    });
    doc.steps = { ...doc.steps, [step]: record };
  }
}
