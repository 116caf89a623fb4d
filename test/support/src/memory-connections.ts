// The connections in one process's memory, for the workers' unit tests: what every write of the
// in-memory store (memory-connection-store.ts) shares: the documents, a clock, what the use cases
// wrote, and the one lease (taken, given back, ended) with the real store's fields.
import {
  acquired,
  callbackStatusFor,
  connectionKey,
  holdsLease,
  keptProblems,
  KEPT_RESPONSE_CHARS,
  leaseIsLive,
  leaseRefusal,
  slotRecord,
  type CallEnd,
  type CallSlot,
  type ConnectionDocument,
  type ConnectionRepository,
  type DeprovisionStep,
  type OutsideCallRecord,
  type StalledWork,
  type StepEnd,
} from '@fortellis-admin/connection-store';

/** The outside call a lease guards: the callback, the provisioning, or a deprovision step. */
export type LeasedCall = 'callback' | 'provisioning' | DeprovisionStep;

/** The call a slot's lease guards, as the tests name it. */
const leasedCall = (slot: CallSlot): LeasedCall => (slot.call === 'step' ? slot.step : slot.call);

/** Whether a connection in this state needs `work` from a worker (as `stalledQueries`). */
function needsWork(work: StalledWork, doc: ConnectionDocument): boolean {
  if (work === 'deprovision')
    return (
      doc.state === 'deactivated' &&
      (doc.steps?.cleanup?.status === undefined ||
        doc.steps.deactivationReport?.status === undefined)
    );
  return (
    ['received', 'approved', 'rejected', 'suspending'].includes(doc.state) ||
    (doc.state === 'accepted' && doc.acceptanceAnnounced !== true)
  );
}

/**
 * The documents in a Map, and what the use cases wrote, for the tests to look at: `releases`,
 * `leasesTaken` (leases taken on their own, not by the write before them), `callbackEnds`,
 * `provisioningFailures`, `stepEnds`, `announced`. Each write that changes a connection moves its
 * version on and stamps `updatedAt` (`changed`), as the real store does: the reconciler reads both.
 */
export class MemoryConnections {
  readonly docs = new Map<string, ConnectionDocument>();
  readonly releases: Array<{ call: LeasedCall; error: string }> = [];
  readonly leasesTaken: LeasedCall[] = [];
  readonly callbackEnds: Array<Parameters<ConnectionRepository['completeCallback']>[3]> = [];
  readonly provisioningFailures: Array<Parameters<ConnectionRepository['failProvisioning']>[2]> =
    [];
  readonly stepEnds: Array<{ step: DeprovisionStep } & StepEnd> = [];
  /** How often the acceptance was recorded as announced (alone or with the callback's end). */
  announced = 0;
  readonly now: () => Date;
  #leases = 0;

  constructor(now: () => Date = () => new Date()) {
    this.now = now;
  }

  get = async (id: string) => structuredClone(this.docs.get(connectionKey(id)) ?? null);

  findStalled: ConnectionRepository['findStalled'] = async (work, untouchedSince, limit) =>
    [...this.docs.values()]
      .filter((doc) => doc.updatedAt < untouchedSince && needsWork(work, doc))
      .sort((a, b) => a.updatedAt.getTime() - b.updatedAt.getTime())
      .slice(0, limit)
      .map((doc) => structuredClone(doc));

  /**
   * Takes the lease of the slot's call, with the real store's conditions (call-slot.ts): none for
   * a connection never stored, one refused by its state, or a live lease of another holder.
   */
  acquireCallLease: ConnectionRepository['acquireCallLease'] = async (id, slot, leaseMs) => {
    this.leasesTaken.push(leasedCall(slot));
    const doc = this.docs.get(connectionKey(id));
    if (doc === undefined) return { kind: 'unavailable', why: 'unknown' };
    const refusal = leaseRefusal(doc, slot);
    if (refusal !== null)
      return { kind: 'unavailable', why: refusal, connection: structuredClone(doc) };
    const previous = slotRecord(doc, slot);
    if (leaseIsLive(previous, this.now()))
      return { kind: 'unavailable', why: 'busy', connection: structuredClone(doc) };
    const status = slot.call === 'callback' ? callbackStatusFor(slot.state) : undefined;
    const { leaseId } = this.takeLease(doc, leasedCall(slot), leaseMs, status);
    return { kind: 'acquired', connection: this.changed(doc), ...acquired(leaseId, previous) };
  };

  releaseCallLease: ConnectionRepository['releaseCallLease'] = async (id, slot, leaseId, attempt) =>
    this.release(id, leasedCall(slot), leaseId, attempt);

  /** Moves the connection's version on, stamps the change, and answers a copy. */
  protected changed(doc: ConnectionDocument): ConnectionDocument {
    doc.version += 1;
    doc.updatedAt = this.now();
    return structuredClone(doc);
  }

  /**
   * Takes a new lease on `call`'s record (created if absent), counting the attempt; a callback's
   * lease sets the callback's `status` too.
   */
  protected takeLease(
    doc: ConnectionDocument,
    call: LeasedCall,
    leaseMs: number,
    status: 'accepted' | 'rejected' = 'accepted',
  ): { leaseId: string } {
    // Unique per store, as the real store's random ids are: the ledger is keyed by lease id.
    this.#leases += 1;
    const leaseId = `lease-${this.#leases}`;
    const now = this.now();
    const lease = { leaseId, leaseUntil: new Date(now.getTime() + leaseMs), lastAttemptAt: now };
    if (call === 'callback') {
      doc.callback = { ...doc.callback, status, attempts: attempts(doc.callback), ...lease };
    } else if (call === 'provisioning') {
      doc.provisioning = { ...doc.provisioning, attempts: attempts(doc.provisioning), ...lease };
    } else {
      const record = doc.steps?.[call];
      doc.steps = { ...doc.steps, [call]: { ...record, attempts: attempts(record), ...lease } };
    }
    return { leaseId };
  }

  /** Records a failed attempt and gives the lease back, while it is held. */
  protected async release(
    id: string,
    call: LeasedCall,
    leaseId: string,
    attempt: { status?: number; error: string },
  ): Promise<void> {
    const doc = this.docs.get(connectionKey(id));
    const record =
      call === 'callback' || call === 'provisioning' ? doc?.[call] : doc?.steps?.[call];
    if (doc === undefined || record === undefined || !holdsLease(record, leaseId)) return;
    this.releases.push({ call, error: attempt.error });
    record.lastError = attempt.error;
    if (attempt.status !== undefined) record.lastStatus = attempt.status;
    delete record.leaseId;
    delete record.leaseUntil;
    this.changed(doc);
  }

  /** Ends the call under the lease: when, what the party answered, what is kept of a failure. */
  protected endCall(record: OutsideCallRecord, end: CallEnd): void {
    record.completedAt = this.now();
    if (end.httpStatus !== undefined) record.lastStatus = end.httpStatus;
    if (end.error !== undefined) record.lastError = end.error;
    if (end.failed && end.httpStatus !== undefined) {
      record.response =
        end.problems !== undefined
          ? { status: end.httpStatus, problems: keptProblems(end.problems) }
          : {
              status: end.httpStatus,
              ...(end.body !== undefined && { body: end.body.slice(0, KEPT_RESPONSE_CHARS) }),
            };
    }
    delete record.leaseId;
    delete record.leaseUntil;
  }
}

/** The attempts of a call once one more is under way. */
export const attempts = (record: OutsideCallRecord | undefined) => (record?.attempts ?? 0) + 1;

/** What an operator's reopening clears of an ended call; its attempts are kept. */
export function reopenCall<R extends OutsideCallRecord>(record: R, outcome: keyof R): void {
  delete record[outcome];
  delete record.completedAt;
  delete record.response;
}
