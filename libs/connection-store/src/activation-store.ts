// Writes of a connection's activation and decision: storing an activation once, moving it through
// the state machine, recording decisions, the announcement of an acceptance and operators' actions.
import { isDuplicateKey, type ConnectionCollection } from './connection-collection.ts';
import {
  activationFields,
  decideBeforeInsert,
  decisionDetail,
  newActivationDocument,
  type ActivationRecord,
  type DecidedActivation,
} from './activation-document.ts';
import {
  allowedStarts,
  decisionEvent,
  historyEntry,
  repeatedActivation,
  reviewRequestOutcome,
  stateAfterDecision,
} from './connection-state-machine.ts';
import {
  connectionKey,
  type ConnectionDocument,
  type ConnectionState,
  type Decision,
  type ReviewRequestRecord,
} from './connection-states.ts';
import type { AcquiredLease } from './outside-call-lease.ts';

export type { ActivationRecord, DecidedActivation } from './activation-document.ts';

export type RecordActivationResult =
  /**
   * Stored now; `lease` is the first outside call's (`leaseFor`: the callback's, or the backend
   * provisioning's for an approval when a provisioner is configured), taken with the insert.
   */
  | {
      kind: 'created';
      connection: ConnectionDocument;
      lease?: AcquiredLease;
      leaseFor?: 'callback' | 'provisioning';
    }
  | { kind: 'existing'; connection: ConnectionDocument }
  /** The connection was deactivated (or tombstoned) before this activation: never to be accepted. */
  | { kind: 'stale'; connection: ConnectionDocument };

/** A move through the state machine: its history event, and what else it sets or clears. */
export interface TransitionChange {
  event: string;
  by: string;
  detail?: string;
  set?: Partial<ConnectionDocument>;
  unset?: string[];
}

export class ActivationStore {
  readonly #c: ConnectionCollection;

  constructor(connections: ConnectionCollection) {
    this.#c = connections;
  }

  /**
   * Stores an activation once: one insert, with its decision and the callback's lease when
   * `decided` is given. A redelivery finds the existing document; an activation for a connection
   * already deactivated is recorded in its history (once) and reported stale. The insert needs no
   * lock: the unique `_id` lets only one writer create the document, on every backend.
   */
  async recordActivation(
    record: ActivationRecord,
    decided?: DecidedActivation,
  ): Promise<RecordActivationResult> {
    const key = connectionKey(record.activation.connectionId);
    const now = this.#c.now();
    const previous = await this.#c.collection
      .find(
        { subscriptionId: record.activation.subscriptionId, _id: { $ne: key } },
        { projection: { _id: 1 } },
      )
      .sort({ createdAt: 1 })
      .toArray();
    const document = newActivationDocument(
      record,
      previous.map((p) => p._id),
      now,
    );
    const inserted = decided === undefined ? undefined : decideBeforeInsert(document, decided, now);
    try {
      await this.#c.collection.insertOne(document);
      return { kind: 'created', connection: document, ...inserted };
    } catch (error) {
      if (!isDuplicateKey(error)) throw error;
    }
    return this.#recordRepeatedActivation(record, key, now);
  }

  /**
   * An activation whose connection is already stored: a redelivery (`existing`), or one for a
   * connection deactivated before it (`stale`), recorded in a tombstone's history once.
   */
  #recordRepeatedActivation(
    record: ActivationRecord,
    key: string,
    now: Date,
  ): Promise<RecordActivationResult> {
    return this.#c.withLock(record.activation.connectionId, async () => {
      const existing = await this.#c.get(key);
      if (existing === null)
        throw new Error(`connection ${key} vanished after a duplicate-key insert`);
      const meaning = repeatedActivation(existing);
      if (meaning === 'existing') return { kind: 'existing', connection: existing };
      if (meaning === 'stale') return { kind: 'stale', connection: existing };
      // A tombstone receives its activation late: keep the payload for the record, never act on it.
      const updated = await this.#c.apply(existing, {
        $set: { ...activationFields(record), updatedAt: now },
        $inc: { version: 1 },
        $push: {
          history: historyEntry({
            at: now,
            event: 'stale_activation',
            by: 'approval-worker',
            detail: `request ${record.requestId}: connection already deactivated`,
          }),
        },
      });
      return { kind: 'stale', connection: updated ?? existing };
    });
  }

  /**
   * Moves a connection from one of `from` to `to`, setting `set`. Returns the updated document, or
   * null when the connection was not in an expected state (someone else acted first).
   */
  transition(
    connectionId: string,
    from: readonly ConnectionState[],
    to: ConnectionState,
    change: TransitionChange,
  ): Promise<ConnectionDocument | null> {
    return this.#c.withLock(connectionId, async () => {
      const expected = allowedStarts(from, to);
      if (expected.length === 0) return null;
      const now = this.#c.now();
      const current = await this.#c.get(connectionId);
      if (current === null || !expected.includes(current.state)) return null;
      return this.#c.apply(current, {
        $set: { ...change.set, state: to, updatedAt: now },
        $inc: { version: 1 },
        $push: {
          history: historyEntry({
            at: now,
            event: change.event,
            from: current.state,
            to,
            by: change.by,
            detail: change.detail,
          }),
        },
        ...(change.unset === undefined || change.unset.length === 0
          ? {}
          : { $unset: Object.fromEntries(change.unset.map((field) => [field, ''])) }),
      });
    });
  }

  /**
   * Records a decision made by the rules or an operator: `received` (or `pending_review` for an
   * operator) → the decided state. Null when the connection was not in one of `from`.
   */
  recordDecision(
    connectionId: string,
    decision: Decision,
    from: readonly ConnectionState[],
  ): Promise<ConnectionDocument | null> {
    return this.transition(connectionId, from, stateAfterDecision(decision.action), {
      event: decisionEvent(decision.action),
      by: decision.decidedBy,
      detail: decisionDetail(decision),
      set: { decision },
      unset: ['callback'],
    });
  }

  /** Marks that the ConnectionAccepted job was published. */
  async markAcceptanceAnnounced(connectionId: string): Promise<void> {
    await this.#c.applyIf(connectionId, {}, { $set: { acceptanceAnnounced: true } });
  }

  /**
   * Records an operator's decision on a held connection, once: the same decision again is a repeat,
   * another one (or one for a connection no longer held) a conflict with what was taken. Null when
   * the connection does not exist.
   */
  recordReviewRequest(
    connectionId: string,
    request: ReviewRequestRecord,
  ): Promise<
    | { kind: 'recorded' | 'repeated'; connection: ConnectionDocument }
    | {
        kind: 'conflict';
        state: ConnectionState;
        taken: ReviewRequestRecord | Decision | undefined;
      }
    | null
  > {
    return this.#c.withLock(connectionId, async () => {
      const current = await this.#c.get(connectionId);
      if (current === null) return null;
      switch (reviewRequestOutcome(current, request)) {
        case 'repeat':
          return { kind: 'repeated', connection: current };
        case 'conflict':
          return {
            kind: 'conflict',
            state: current.state,
            taken: current.reviewRequest ?? current.decision,
          };
        case 'record':
          break;
      }
      const now = this.#c.now();
      const updated = await this.#c.apply(current, {
        $set: { reviewRequest: request, updatedAt: now },
        $inc: { version: 1 },
        $push: {
          history: historyEntry({
            at: now,
            event: `operator_${request.action}_requested`,
            by: request.by,
            detail: request.reason,
          }),
        },
      });
      return updated === null ? null : { kind: 'recorded', connection: updated };
    });
  }

  /**
   * Records an operator's action in the history, if the connection is in one of `expected`.
   * Returns the connection, `conflict` with its current state, or null when it does not exist.
   */
  recordOperatorAction(
    connectionId: string,
    action: { event: string; by: string; detail?: string },
    expected: readonly ConnectionState[],
  ): Promise<
    | { kind: 'recorded'; connection: ConnectionDocument }
    | { kind: 'conflict'; state: ConnectionState }
    | null
  > {
    return this.#c.withLock(connectionId, async () => {
      const current = await this.#c.get(connectionId);
      if (current === null) return null;
      if (!expected.includes(current.state)) return { kind: 'conflict', state: current.state };
      const now = this.#c.now();
      const updated = await this.#c.apply(current, {
        $set: { updatedAt: now },
        $inc: { version: 1 },
        $push: { history: historyEntry({ at: now, ...action }) },
      });
      return updated === null ? null : { kind: 'recorded', connection: updated };
    });
  }
}
