// The connection store in one process's memory, for the workers' unit tests: the writes the
// workers' use cases make, with the real store's conditions and fields (no history). It passes the
// same contract suite as the MongoDB repository (libs/connection-store/test/store-contract.ts).
import {
  activationFields,
  allowedStarts,
  callbackStatusFor,
  connectionKey,
  holdsLease,
  reopenedCallbackState,
  repeatedActivation,
  stateAfterCallback,
  stateAfterDecision,
  type ConnectionDocument,
  type ConnectionRepository,
} from '@fortellis-admin/connection-store';
import { reopenCall } from './memory-connections.ts';
import { MemoryDeprovisionWrites } from './memory-deprovision-writes.ts';

export type { LeasedCall } from './memory-connections.ts';

/** The store's operations the workers' use cases rely on: what the contract suite covers. */
export type WorkerConnectionStore = Pick<
  ConnectionRepository,
  | 'get'
  | 'recordActivation'
  | 'recordDecision'
  | 'markAcceptanceAnnounced'
  | 'findStalled'
  | 'acquireCallLease'
  | 'releaseCallLease'
  | 'completeCallback'
  | 'reopenCallback'
  | 'completeProvisioning'
  | 'failProvisioning'
  | 'reopenProvisioning'
  | 'recordDeactivation'
  | 'completeStep'
  | 'completeStepThenLease'
  | 'reopenFailedSteps'
>;

/**
 * The store's writes over a Map (see `MemoryConnections` for what it keeps for the tests): the
 * activation, decision, callback and provisioning writes here, the deprovision ones inherited.
 */
export class MemoryConnectionStore
  extends MemoryDeprovisionWrites
  implements WorkerConnectionStore
{
  recordActivation: ConnectionRepository['recordActivation'] = async (record, decided) => {
    const key = connectionKey(record.activation.connectionId);
    const existing = this.docs.get(key);
    if (existing !== undefined) {
      const meaning = repeatedActivation(existing);
      if (meaning === 'existing')
        return { kind: 'existing', connection: structuredClone(existing) };
      // A tombstone keeps its late activation for the record, and never acts on it.
      if (meaning === 'stale-first')
        this.changed(Object.assign(existing, activationFields(record)));
      return { kind: 'stale', connection: structuredClone(existing) };
    }
    const previous = [...this.docs.values()]
      .filter((doc) => doc.subscriptionId === record.activation.subscriptionId)
      .sort((a, b) => a.createdAt.getTime() - b.createdAt.getTime());
    const doc: ConnectionDocument = {
      _id: key,
      connectionId: record.activation.connectionId,
      ...activationFields(record),
      state: 'received',
      version: 1,
      previousConnectionIds: previous.map((p) => p._id),
      history: [],
      createdAt: this.now(),
      updatedAt: this.now(),
    };
    this.docs.set(key, doc);
    if (decided === undefined) return { kind: 'created', connection: structuredClone(doc) };
    doc.state = stateAfterDecision(decided.decision.action);
    doc.decision = decided.decision;
    let leaseFor: 'callback' | 'provisioning' | undefined;
    let leaseId: string | undefined;
    if (doc.state === 'approved' && decided.provisioningLeaseMs !== undefined) {
      leaseFor = 'provisioning';
      ({ leaseId } = this.takeLease(doc, 'provisioning', decided.provisioningLeaseMs));
    } else if (doc.state === 'approved' || doc.state === 'rejected') {
      leaseFor = 'callback';
      const status = callbackStatusFor(doc.state);
      ({ leaseId } = this.takeLease(doc, 'callback', decided.callbackLeaseMs, status));
    }
    // The insert is one write: version 1, whatever it holds.
    doc.version = 1;
    return {
      kind: 'created',
      connection: structuredClone(doc),
      ...(leaseId !== undefined && leaseFor !== undefined && { lease: { leaseId }, leaseFor }),
    };
  };

  recordDecision: ConnectionRepository['recordDecision'] = async (id, decision, from) => {
    const doc = this.docs.get(connectionKey(id));
    const to = stateAfterDecision(decision.action);
    if (doc === undefined || !allowedStarts(from, to).includes(doc.state)) return null;
    doc.state = to;
    doc.decision = decision;
    delete doc.callback;
    return this.changed(doc);
  };

  markAcceptanceAnnounced: ConnectionRepository['markAcceptanceAnnounced'] = async (id) => {
    const doc = this.docs.get(connectionKey(id));
    // A flag, not a change of the connection: the real store moves neither version nor updatedAt.
    if (doc !== undefined) doc.acceptanceAnnounced = true;
    this.announced += 1;
  };

  completeCallback: ConnectionRepository['completeCallback'] = async (
    id,
    leaseId,
    from,
    result,
    options = {},
  ) => {
    const doc = this.docs.get(connectionKey(id));
    if (doc?.callback === undefined || doc.state !== from || !holdsLease(doc.callback, leaseId))
      return null;
    this.callbackEnds.push(result);
    doc.state = stateAfterCallback(from, result.outcome);
    if (doc.state === 'accepted') {
      doc.acceptedAt = this.now();
      delete doc.provisioning?.credentials;
    }
    doc.callback.outcome = result.outcome;
    this.endCall(doc.callback, {
      httpStatus: result.status,
      error: result.error,
      body: result.body,
      failed: result.outcome === 'failed',
    });
    if (options.announced === true) {
      doc.acceptanceAnnounced = true;
      this.announced += 1;
    }
    return this.changed(doc);
  };

  reopenCallback: ConnectionRepository['reopenCallback'] = async (id) => {
    const doc = this.docs.get(connectionKey(id));
    const back = reopenedCallbackState(doc ?? null);
    if (doc === undefined || back === null) return null;
    doc.state = back;
    if (doc.callback !== undefined) reopenCall(doc.callback, 'outcome');
    return this.changed(doc);
  };

  completeProvisioning: ConnectionRepository['completeProvisioning'] = async (
    id,
    leaseId,
    result,
    callbackLeaseMs,
  ) => {
    const doc = this.docs.get(connectionKey(id));
    if (doc?.state !== 'approved' || doc.provisioning === undefined) return null;
    if (!holdsLease(doc.provisioning, leaseId)) return null;
    doc.provisioning.status = 'done';
    if (result.accountId !== undefined) doc.provisioning.accountId = result.accountId;
    if (result.credentials !== undefined) {
      doc.provisioning.credentialNames = result.credentials.names;
      doc.provisioning.credentials = result.credentials.sealed;
    }
    this.endCall(doc.provisioning, { httpStatus: result.httpStatus, failed: false });
    // The callback's lease comes with this write unless a callback lease is held already.
    const callbackLease =
      doc.callback?.leaseId === undefined
        ? this.takeLease(doc, 'callback', callbackLeaseMs, callbackStatusFor('approved'))
        : null;
    return { connection: this.changed(doc), callbackLease };
  };

  failProvisioning: ConnectionRepository['failProvisioning'] = async (id, leaseId, failure) => {
    const doc = this.docs.get(connectionKey(id));
    if (doc?.state !== 'approved' || doc.provisioning === undefined) return null;
    if (!holdsLease(doc.provisioning, leaseId)) return null;
    this.provisioningFailures.push(failure);
    doc.state = 'provisioning_failed';
    doc.provisioning.status = 'failed';
    this.endCall(doc.provisioning, { ...failure, failed: true });
    return this.changed(doc);
  };

  reopenProvisioning: ConnectionRepository['reopenProvisioning'] = async (id) => {
    const doc = this.docs.get(connectionKey(id));
    if (doc?.state !== 'provisioning_failed') return null;
    doc.state = 'approved';
    if (doc.provisioning !== undefined) reopenCall(doc.provisioning, 'status');
    return this.changed(doc);
  };
}
