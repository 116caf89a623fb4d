// The connections collection, shared by both workers. Every change is one conditional,
// single-document update (expected state and version), made while holding the connection's lock,
// so two workers or a redelivered job can never both act. Works on MongoDB and on FerretDB: no
// transactions, no change streams.
import { randomUUID } from 'node:crypto';
import type { Collection, Db, UpdateFilter } from 'mongodb';
import type { ActivateRequest } from '@fortellis-admin/contracts';
import type { ConnectionLocks } from './connection-lock.ts';
import {
  connectionKey,
  statesLeadingTo,
  type ConnectionDocument,
  type ConnectionState,
  type Decision,
  type DeprovisionStep,
  type StepRecord,
  type HistoryEntry,
} from './connection-states.ts';

export const CONNECTIONS_COLLECTION = 'connections';

/** Filters of the connection list; all optional, combined with AND. */
export interface ConnectionFilter {
  state?: ConnectionState;
  subscriptionId?: string;
  organizationId?: string;
  apiId?: string;
}

/** Where a page of the newest-first list starts: after this (createdAt, _id). */
export interface ListCursor {
  createdAt: Date;
  id: string;
}

export type StepLease =
  | { kind: 'acquired'; leaseId: string; connection: ConnectionDocument }
  /** The step has already ended (done, failed or skipped): nothing to do. */
  | { kind: 'finished'; record: StepRecord }
  /** Another worker holds a live lease on the step. */
  | { kind: 'busy' }
  | { kind: 'unknown' };

export type RecordActivationResult =
  | { kind: 'created'; connection: ConnectionDocument }
  | { kind: 'existing'; connection: ConnectionDocument }
  /** The connection was deactivated (or tombstoned) before this activation: never to be accepted. */
  | { kind: 'stale'; connection: ConnectionDocument };

export interface ActivationRecord {
  activation: ActivateRequest;
  requestId: string;
  receivedAt: Date;
}

const DUPLICATE_KEY = 11000;

function isDuplicateKey(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { code?: unknown }).code === DUPLICATE_KEY
  );
}

export class ConnectionRepository {
  readonly #collection: Collection<ConnectionDocument>;
  readonly #locks: ConnectionLocks;
  readonly #now: () => Date;

  constructor(db: Db, locks: ConnectionLocks, now: () => Date = () => new Date()) {
    this.#collection = db.collection<ConnectionDocument>(CONNECTIONS_COLLECTION);
    this.#locks = locks;
    this.#now = now;
  }

  /** Creates the indexes the workers and operators query by. Idempotent. */
  async ensureIndexes(): Promise<void> {
    await this.#collection.createIndex(
      { subscriptionId: 1, createdAt: -1 },
      { name: 'subscription' },
    );
    await this.#collection.createIndex({ state: 1, updatedAt: -1 }, { name: 'state' });
  }

  async get(connectionId: string): Promise<ConnectionDocument | null> {
    return this.#collection.findOne({ _id: connectionKey(connectionId) });
  }

  /**
   * Applies `update` to a document read under the connection's lock. Every writer holds that lock,
   * so nothing can change the document between the read and this write, and the conditions (state,
   * lease, version) are checked in code on what was read. The write filters on `_id` alone: FerretDB
   * answers that in ~2.5 ms but takes ~7 ms with `version` added and ~18 ms with more conditions
   * (measured on a connection document); the version still increments, for readers and audits.
   */
  async #apply(
    current: ConnectionDocument,
    update: UpdateFilter<ConnectionDocument>,
  ): Promise<ConnectionDocument | null> {
    return this.#collection.findOneAndUpdate({ _id: current._id }, update, {
      returnDocument: 'after',
    });
  }

  /**
   * Connections matching `filter`, newest first (by creation, then id), at most `limit`, starting
   * after `after`. Returns one more than asked when there is a next page, for the caller to see.
   */
  async list(
    filter: ConnectionFilter,
    limit: number,
    after?: ListCursor,
  ): Promise<ConnectionDocument[]> {
    const query: Record<string, unknown> = {};
    if (filter.state !== undefined) query.state = filter.state;
    if (filter.subscriptionId !== undefined) query.subscriptionId = filter.subscriptionId;
    if (filter.organizationId !== undefined) query.organizationId = filter.organizationId;
    if (filter.apiId !== undefined) query.apiId = filter.apiId;
    if (after !== undefined) {
      query.$or = [
        { createdAt: { $lt: after.createdAt } },
        { createdAt: after.createdAt, _id: { $lt: after.id } },
      ];
    }
    return this.#collection
      .find(query)
      .sort({ createdAt: -1, _id: -1 })
      .limit(limit + 1)
      .toArray();
  }

  /**
   * Records an operator's action in the history, if the connection is in one of `expected`.
   * Returns the connection, `conflict` with its current state, or null when it does not exist.
   */
  async recordOperatorAction(
    connectionId: string,
    action: { event: string; by: string; detail?: string },
    expected: readonly ConnectionState[],
  ): Promise<
    | { kind: 'recorded'; connection: ConnectionDocument }
    | { kind: 'conflict'; state: ConnectionState }
    | null
  > {
    return this.#locks.withLock(connectionId, async () => {
      const current = await this.get(connectionId);
      if (current === null) return null;
      if (!expected.includes(current.state)) return { kind: 'conflict', state: current.state };
      const now = this.#now();
      const entry: HistoryEntry = {
        at: now,
        event: action.event,
        by: action.by,
        ...(action.detail === undefined ? {} : { detail: action.detail }),
      };
      const updated = await this.#apply(current, {
        $set: { updatedAt: now },
        $inc: { version: 1 },
        $push: { history: entry },
      });
      return updated === null ? null : { kind: 'recorded', connection: updated };
    });
  }

  /**
   * Reopens a failed callback so it can be attempted again: `callback_failed` goes back to the
   * decided state (`approved` or `rejected`), attempts are kept. Null if not `callback_failed`.
   */
  async reopenCallback(connectionId: string, by: string): Promise<ConnectionDocument | null> {
    const current = await this.get(connectionId);
    const action = current?.decision?.action;
    if (current?.state !== 'callback_failed' || (action !== 'approve' && action !== 'reject'))
      return null;
    return this.transition(
      connectionId,
      ['callback_failed'],
      action === 'approve' ? 'approved' : 'rejected',
      {
        event: 'operator_retry_callback',
        by,
        unset: ['callback.outcome', 'callback.completedAt', 'callback.response'],
      },
    );
  }

  /** Reopens the deprovision steps that failed, keeping their attempts. Returns the steps reopened. */
  async reopenFailedSteps(connectionId: string, by: string): Promise<DeprovisionStep[]> {
    return this.#locks.withLock(connectionId, async () => {
      const current = await this.get(connectionId);
      const failed = Object.entries(current?.steps ?? {})
        .filter(([, record]) => record.status === 'failed')
        .map(([step]) => step as DeprovisionStep);
      if (current === null || failed.length === 0) return [];
      const now = this.#now();
      await this.#apply(current, {
        $set: { updatedAt: now },
        $unset: Object.fromEntries(
          failed.flatMap((step) =>
            [`steps.${step}.status`, `steps.${step}.completedAt`, `steps.${step}.response`].map(
              (field) => [field, ''],
            ),
          ),
        ),
        $inc: { version: 1 },
        $push: {
          history: { at: now, event: 'operator_retry_steps', by, detail: failed.join(', ') },
        },
      });
      return failed;
    });
  }

  /**
   * Stores an activation once. A redelivery finds the existing document; an activation for a
   * connection already deactivated is recorded in its history (once) and reported stale.
   */
  async recordActivation(record: ActivationRecord): Promise<RecordActivationResult> {
    return this.#locks.withLock(record.activation.connectionId, async () => {
      const key = connectionKey(record.activation.connectionId);
      const now = this.#now();
      const previous = await this.#collection
        .find(
          { subscriptionId: record.activation.subscriptionId, _id: { $ne: key } },
          { projection: { _id: 1 } },
        )
        .sort({ createdAt: 1 })
        .toArray();
      const document: ConnectionDocument = {
        _id: key,
        connectionId: record.activation.connectionId,
        subscriptionId: record.activation.subscriptionId,
        organizationId: record.activation.organizationInfo.id,
        apiId: record.activation.apiInfo.id,
        state: 'received',
        version: 1,
        activation: record.activation,
        requestId: record.requestId,
        receivedAt: record.receivedAt,
        previousConnectionIds: previous.map((p) => p._id),
        history: [
          {
            at: now,
            event: 'activation_received',
            to: 'received',
            by: 'ingress',
            detail: `request ${record.requestId}`,
          },
        ],
        createdAt: now,
        updatedAt: now,
      };
      try {
        await this.#collection.insertOne(document);
        return { kind: 'created', connection: document };
      } catch (error) {
        if (!isDuplicateKey(error)) throw error;
      }
      const existing = await this.get(key);
      if (existing === null)
        throw new Error(`connection ${key} vanished after a duplicate-key insert`);
      if (existing.state !== 'deactivated') return { kind: 'existing', connection: existing };
      // A deactivated connection (often a tombstone) receives its activation late: keep the payload
      // for the record, once, and never act on it.
      if (existing.activation !== undefined) return { kind: 'stale', connection: existing };
      const updated = await this.#apply(existing, {
        $set: {
          activation: record.activation,
          subscriptionId: record.activation.subscriptionId,
          organizationId: record.activation.organizationInfo.id,
          apiId: record.activation.apiInfo.id,
          requestId: record.requestId,
          receivedAt: record.receivedAt,
          updatedAt: now,
        },
        $inc: { version: 1 },
        $push: {
          history: {
            at: now,
            event: 'stale_activation',
            by: 'approval-worker',
            detail: `request ${record.requestId}: connection already deactivated`,
          },
        },
      });
      return { kind: 'stale', connection: updated ?? existing };
    });
  }

  /**
   * Moves a connection from one of `from` to `to`, setting `set`. Returns the updated document, or
   * null when the connection was not in an expected state (someone else acted first).
   */
  async transition(
    connectionId: string,
    from: readonly ConnectionState[],
    to: ConnectionState,
    change: {
      event: string;
      by: string;
      detail?: string;
      set?: Partial<ConnectionDocument>;
      unset?: string[];
    },
  ): Promise<ConnectionDocument | null> {
    return this.#locks.withLock(connectionId, async () => {
      const allowed = statesLeadingTo(to);
      const expected = from.filter((state) => allowed.includes(state));
      if (expected.length === 0) return null;
      const now = this.#now();
      const current = await this.get(connectionId);
      if (current === null || !expected.includes(current.state)) return null;
      const entry: HistoryEntry = {
        at: now,
        event: change.event,
        from: current.state,
        to,
        by: change.by,
        ...(change.detail === undefined ? {} : { detail: change.detail }),
      };
      return this.#apply(current, {
        $set: { ...change.set, state: to, updatedAt: now },
        $inc: { version: 1 },
        $push: { history: entry },
        ...(change.unset === undefined || change.unset.length === 0
          ? {}
          : { $unset: Object.fromEntries(change.unset.map((field) => [field, ''])) }),
      });
    });
  }

  /** Records a decision: `received` (or `pending_review` for an operator) → the decided state. */
  async decide(
    connectionId: string,
    decision: Decision,
    from: readonly ConnectionState[],
  ): Promise<ConnectionDocument | null> {
    const to: ConnectionState =
      decision.action === 'approve'
        ? 'approved'
        : decision.action === 'reject'
          ? 'rejected'
          : 'pending_review';
    return this.transition(connectionId, from, to, {
      event: decision.action === 'review' ? 'held_for_review' : `decided_${decision.action}`,
      by: decision.decidedBy,
      detail: `${decision.ruleId}${decision.reason === undefined ? '' : `: ${decision.reason}`}`,
      set: { decision },
      unset: ['callback'],
    });
  }

  /**
   * Takes the exclusive right to send the callback for `state` for `leaseMs`. Returns the lease id,
   * or null when the connection left that state or another worker holds a live lease.
   */
  async acquireCallbackLease(
    connectionId: string,
    state: 'approved' | 'rejected',
    leaseMs: number,
  ): Promise<string | null> {
    return this.#locks.withLock(connectionId, async () => {
      const now = this.#now();
      const current = await this.get(connectionId);
      if (current === null || current.state !== state) return null;
      const leaseUntil = current.callback?.leaseUntil;
      if (leaseUntil !== undefined && leaseUntil >= now) return null;
      const leaseId = randomUUID();
      const status = state === 'approved' ? 'accepted' : 'rejected';
      const updated = await this.#apply(current, {
        $set: {
          'callback.status': status,
          'callback.leaseUntil': new Date(now.getTime() + leaseMs),
          'callback.leaseId': leaseId,
          'callback.lastAttemptAt': now,
          updatedAt: now,
        },
        $inc: { 'callback.attempts': 1, version: 1 },
      });
      return updated === null ? null : leaseId;
    });
  }

  /** Records a failed attempt and gives the lease back. */
  async releaseCallbackLease(
    connectionId: string,
    leaseId: string,
    attempt: { status?: number; error: string },
  ): Promise<void> {
    return this.#locks.withLock(connectionId, async () => {
      const current = await this.get(connectionId);
      if (current?.callback?.leaseId !== leaseId) return;
      await this.#apply(current, {
        $set: {
          'callback.lastError': attempt.error,
          ...(attempt.status === undefined ? {} : { 'callback.lastStatus': attempt.status }),
          updatedAt: this.#now(),
        },
        $unset: { 'callback.leaseUntil': '', 'callback.leaseId': '' },
        $inc: { version: 1 },
      });
    });
  }

  /** Ends the callback under the lease: acknowledged (→ accepted / rejection_sent) or failed. */
  async completeCallback(
    connectionId: string,
    leaseId: string,
    from: 'approved' | 'rejected',
    result: { outcome: 'acknowledged' | 'failed'; status?: number; body?: string; error?: string },
  ): Promise<ConnectionDocument | null> {
    return this.#locks.withLock(connectionId, async () => {
      const now = this.#now();
      const to: ConnectionState =
        result.outcome === 'failed'
          ? 'callback_failed'
          : from === 'approved'
            ? 'accepted'
            : 'rejection_sent';
      const entry: HistoryEntry = {
        at: now,
        event:
          result.outcome === 'failed'
            ? 'callback_failed'
            : `callback_${from === 'approved' ? 'accepted' : 'rejected'}_acknowledged`,
        from,
        to,
        by: 'approval-worker',
        ...(result.status === undefined
          ? {}
          : {
              detail: `HTTP ${result.status}${result.error === undefined ? '' : `: ${result.error}`}`,
            }),
      };
      const current = await this.get(connectionId);
      if (current === null || current.state !== from || current.callback?.leaseId !== leaseId)
        return null;
      return this.#apply(current, {
        $set: {
          state: to,
          updatedAt: now,
          'callback.outcome': result.outcome,
          'callback.completedAt': now,
          ...(result.status === undefined ? {} : { 'callback.lastStatus': result.status }),
          ...(result.error === undefined ? {} : { 'callback.lastError': result.error }),
          ...(result.outcome === 'failed' && result.status !== undefined
            ? {
                'callback.response': {
                  status: result.status,
                  body: (result.body ?? '').slice(0, 2000),
                },
              }
            : {}),
        },
        $unset: { 'callback.leaseUntil': '', 'callback.leaseId': '' },
        $inc: { version: 1 },
        $push: { history: entry },
      });
    });
  }

  /** Marks that the ConnectionAccepted job was published. */
  async markAcceptanceAnnounced(connectionId: string): Promise<void> {
    return this.#locks.withLock(connectionId, async () => {
      await this.#collection.updateOne(
        { _id: connectionKey(connectionId) },
        { $set: { acceptanceAnnounced: true } },
      );
    });
  }

  /**
   * Records a deactivation from any state. For a connection never seen, writes a tombstone so a
   * late activation cannot revive it. Idempotent: a repeat changes nothing. Returns the document.
   */
  async recordDeactivation(
    connectionId: string,
    deactivation: { requestId: string; receivedAt: Date },
  ): Promise<{ connection: ConnectionDocument; changed: boolean }> {
    return this.#locks.withLock(connectionId, async () => {
      const key = connectionKey(connectionId);
      const now = this.#now();
      for (let attempt = 0; attempt < 5; attempt += 1) {
        const current = await this.get(key);
        if (current === null) {
          const tombstone: ConnectionDocument = {
            _id: key,
            connectionId,
            state: 'deactivated',
            version: 1,
            tombstone: true,
            deactivation: { ...deactivation, recordedAt: now },
            history: [
              {
                at: now,
                event: 'deactivated_before_activation',
                to: 'deactivated',
                by: 'deprovision-worker',
                detail: `request ${deactivation.requestId}`,
              },
            ],
            createdAt: now,
            updatedAt: now,
          };
          try {
            await this.#collection.insertOne(tombstone);
            return { connection: tombstone, changed: true };
          } catch (error) {
            if (!isDuplicateKey(error)) throw error;
            continue;
          }
        }
        if (current.state === 'deactivated') return { connection: current, changed: false };
        const updated = await this.#collection.findOneAndUpdate(
          { _id: key },
          {
            $set: {
              state: 'deactivated',
              deactivation: { ...deactivation, recordedAt: now },
              updatedAt: now,
            },
            $inc: { version: 1 },
            $push: {
              history: {
                at: now,
                event: 'deactivated',
                from: current.state,
                to: 'deactivated',
                by: 'deprovision-worker',
                detail: `request ${deactivation.requestId}`,
              },
            },
          },
          { returnDocument: 'after' },
        );
        if (updated !== null) return { connection: updated, changed: true };
      }
      throw new Error(`could not record the deactivation of ${key}: the document kept changing`);
    });
  }

  /** Takes the right to attempt a step, unless it has ended or another worker holds it. */
  async acquireStepLease(
    connectionId: string,
    step: DeprovisionStep,
    leaseMs: number,
  ): Promise<StepLease> {
    return this.#locks.withLock(connectionId, async () => {
      const current = await this.get(connectionId);
      if (current === null) return { kind: 'unknown' };
      const record = current.steps?.[step];
      if (record?.status !== undefined) return { kind: 'finished', record };
      const now = this.#now();
      if (record?.leaseUntil !== undefined && record.leaseUntil > now) return { kind: 'busy' };
      const leaseId = randomUUID();
      const updated = await this.#apply(current, {
        $set: {
          [`steps.${step}.leaseUntil`]: new Date(now.getTime() + leaseMs),
          [`steps.${step}.leaseId`]: leaseId,
          [`steps.${step}.lastAttemptAt`]: now,
          updatedAt: now,
        },
        $inc: { [`steps.${step}.attempts`]: 1, version: 1 },
      });
      return updated === null
        ? { kind: 'busy' }
        : { kind: 'acquired', leaseId, connection: updated };
    });
  }

  /** Records a failed attempt of a step and gives its lease back. */
  async releaseStepLease(
    connectionId: string,
    step: DeprovisionStep,
    leaseId: string,
    attempt: { status?: number; error: string },
  ): Promise<void> {
    return this.#locks.withLock(connectionId, async () => {
      const current = await this.get(connectionId);
      if (current?.steps?.[step]?.leaseId !== leaseId) return;
      await this.#apply(current, {
        $set: {
          [`steps.${step}.lastError`]: attempt.error,
          ...(attempt.status === undefined ? {} : { [`steps.${step}.lastStatus`]: attempt.status }),
          updatedAt: this.#now(),
        },
        $unset: { [`steps.${step}.leaseUntil`]: '', [`steps.${step}.leaseId`]: '' },
        $inc: { version: 1 },
      });
    });
  }

  /**
   * Ends a step: done, failed (with what the party answered) or skipped (with why). Under a lease,
   * only its holder may end it; `leaseId` null ends a step that needed no attempt (skipped).
   */
  async completeStep(
    connectionId: string,
    step: DeprovisionStep,
    leaseId: string | null,
    result: {
      status: 'done' | 'failed' | 'skipped';
      httpStatus?: number;
      body?: string;
      error?: string;
      note?: string;
    },
  ): Promise<boolean> {
    return this.#locks.withLock(connectionId, async () => {
      const now = this.#now();
      const current = await this.get(connectionId);
      const record = current?.steps?.[step];
      const mayEnd = leaseId === null ? record?.status === undefined : record?.leaseId === leaseId;
      if (current === null || !mayEnd) return false;
      const detail = [
        result.httpStatus === undefined ? undefined : `HTTP ${result.httpStatus}`,
        result.error,
        result.note,
      ]
        .filter((part): part is string => part !== undefined)
        .join(': ');
      const updated = await this.#apply(current, {
        $set: {
          [`steps.${step}.status`]: result.status,
          [`steps.${step}.completedAt`]: now,
          ...(result.httpStatus === undefined
            ? {}
            : { [`steps.${step}.lastStatus`]: result.httpStatus }),
          ...(result.error === undefined ? {} : { [`steps.${step}.lastError`]: result.error }),
          ...(result.note === undefined ? {} : { [`steps.${step}.note`]: result.note }),
          ...(result.status === 'failed' && result.httpStatus !== undefined
            ? {
                [`steps.${step}.response`]: {
                  status: result.httpStatus,
                  body: (result.body ?? '').slice(0, 2000),
                },
              }
            : {}),
          updatedAt: now,
        },
        $unset: { [`steps.${step}.leaseUntil`]: '', [`steps.${step}.leaseId`]: '' },
        $inc: { version: 1 },
        $push: {
          history: {
            at: now,
            event: `${step}_${result.status}`,
            by: 'deprovision-worker',
            ...(detail === '' ? {} : { detail }),
          },
        },
      });
      return updated !== null;
    });
  }
}
