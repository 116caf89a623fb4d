// The document an activation is stored as: the fields the activation brings and, when the rules
// decided before the insert, the decision and the first outside call's lease that the same insert
// records. Pure: builds documents, touches no database.
import { randomUUID } from 'node:crypto';
import type { ActivateRequest } from '@fortellis-admin/contracts';
import {
  callbackStatusFor,
  decisionEvent,
  historyEntry,
  stateAfterDecision,
} from './connection-state-machine.ts';
import { connectionKey, type ConnectionDocument, type Decision } from './connection-states.ts';
import { newLeaseRecord, type AcquiredLease } from './outside-call-lease.ts';

export interface ActivationRecord {
  activation: ActivateRequest;
  requestId: string;
  receivedAt: Date;
}

/**
 * The decision on an activation, made before it is stored (the rules are pure), so that one insert
 * records the activation, its decision and, when a callback is due, the lease to send it.
 */
export interface DecidedActivation {
  decision: Decision;
  /** The callback lease's length, for a decision that calls for a callback. */
  callbackLeaseMs: number;
  /**
   * With a provisioner, an approval first provisions the buyer's account: the insert takes that
   * call's lease (this long) instead of the callback's.
   */
  provisioningLeaseMs?: number | undefined;
}

/** The lease of the first outside call, taken with the insert: the callback's or provisioning's. */
export interface InsertedLease {
  lease: AcquiredLease;
  leaseFor: 'callback' | 'provisioning';
}

/** A `received` connection for the activation, as its first insert stores it. */
export function newActivationDocument(
  record: ActivationRecord,
  previousConnectionIds: string[],
  now: Date,
): ConnectionDocument {
  const received = historyEntry({
    at: now,
    event: 'activation_received',
    to: 'received',
    by: 'approval-worker',
    detail: `request ${record.requestId}`,
  });
  return {
    _id: connectionKey(record.activation.connectionId),
    connectionId: record.activation.connectionId,
    ...activationFields(record),
    state: 'received',
    version: 1,
    previousConnectionIds,
    history: [received],
    createdAt: now,
    updatedAt: now,
  };
}

/**
 * Writes the decision into a document not yet inserted: its state, the decision and its history
 * entry, and for an approval or a rejection the lease of the first outside call, which it answers.
 */
export function decideBeforeInsert(
  document: ConnectionDocument,
  decided: DecidedActivation,
  now: Date,
): InsertedLease | undefined {
  const { decision } = decided;
  const state = stateAfterDecision(decision.action);
  document.state = state;
  document.decision = decision;
  document.history.push(
    historyEntry({
      at: now,
      event: decisionEvent(decision.action),
      from: 'received',
      to: state,
      by: decision.decidedBy,
      detail: decisionDetail(decision),
    }),
  );
  if (state === 'approved' && decided.provisioningLeaseMs !== undefined) {
    const lease = { leaseId: randomUUID() };
    document.provisioning = newLeaseRecord({
      leaseId: lease.leaseId,
      now,
      leaseMs: decided.provisioningLeaseMs,
    });
    return { lease, leaseFor: 'provisioning' };
  }
  if (state === 'approved' || state === 'rejected') {
    const lease = { leaseId: randomUUID() };
    document.callback = {
      status: callbackStatusFor(state),
      ...newLeaseRecord({ leaseId: lease.leaseId, now, leaseMs: decided.callbackLeaseMs }),
    };
    return { lease, leaseFor: 'callback' };
  }
  return undefined;
}

/** The history detail of a decision: the rule (or `operator`) and the reason. */
export function decisionDetail(decision: Decision): string {
  return `${decision.ruleId}${decision.reason === undefined ? '' : `: ${decision.reason}`}`;
}

/** The fields of a connection that come from its activation. */
export function activationFields(record: ActivationRecord) {
  return {
    subscriptionId: record.activation.subscriptionId,
    organizationId: record.activation.organizationInfo.id,
    apiId: record.activation.apiInfo.id,
    activation: record.activation,
    requestId: record.requestId,
    receivedAt: record.receivedAt,
  };
}
