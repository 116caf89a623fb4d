// The life of a connection: its states, the transitions allowed between them, and the shape of
// the document the services keep in MongoDB. Pure: no I/O. The rules are in connection-state-machine.ts.
import type { ActivateRequest } from '@fortellis-admin/contracts';

/**
 * - `received`: activation stored, not yet decided.
 * - `pending_review`: held for an operator, with no time limit.
 * - `approved` / `rejected`: decided; the callback is still to be sent.
 * - `accepted`: Fortellis acknowledged our `accepted` callback.
 * - `rejection_sent`: Fortellis acknowledged our `rejected` callback.
 * - `callback_failed`: the callback could not be delivered (4xx, or retries exhausted).
 * - `deactivated`: Fortellis deactivated it (also the state of a tombstone: a deactivation for a
 *   connection never seen, so that a late activation cannot revive it).
 */
export const CONNECTION_STATES = [
  'received',
  'pending_review',
  'approved',
  'rejected',
  'accepted',
  'rejection_sent',
  'callback_failed',
  'deactivated',
] as const;

export type ConnectionState = (typeof CONNECTION_STATES)[number];

/** Allowed transitions. `deactivated` is reachable from everywhere and leads nowhere. */
export const TRANSITIONS: Readonly<Record<ConnectionState, readonly ConnectionState[]>> =
  Object.freeze({
    received: ['pending_review', 'approved', 'rejected', 'deactivated'],
    pending_review: ['approved', 'rejected', 'deactivated'],
    approved: ['accepted', 'callback_failed', 'deactivated'],
    rejected: ['rejection_sent', 'callback_failed', 'deactivated'],
    accepted: ['rejected', 'deactivated'],
    rejection_sent: ['deactivated'],
    callback_failed: ['approved', 'rejected', 'deactivated'],
    deactivated: [],
  });

export type DecisionAction = 'approve' | 'reject' | 'review';

export interface Decision {
  action: DecisionAction;
  /** The rule that fired, or `default`, or `operator` for a review decision. */
  ruleId: string;
  reason?: string;
  /** `rules`, or the operator's name for a review decision. */
  decidedBy: string;
  decidedAt: Date;
}

export interface ReviewRequestRecord {
  action: 'approve' | 'reject';
  reason?: string;
  /** `ops:<token name>`. */
  by: string;
  at: Date;
}

export interface CallbackRecord {
  status: 'accepted' | 'rejected';
  attempts: number;
  lastAttemptAt?: Date;
  lastStatus?: number;
  lastError?: string;
  /** Set while one worker holds the right to send; expires so a crashed worker does not block. */
  leaseUntil?: Date;
  leaseId?: string;
  outcome?: 'acknowledged' | 'failed';
  /** Recorded for a failed callback: what Fortellis answered. */
  response?: { status: number; body: string };
  completedAt?: Date;
}

/** The deprovision worker's steps, each finished once in effect and retried on its own. */
export const DEPROVISION_STEPS = ['cleanup', 'deactivationReport', 'activationReport'] as const;
export type DeprovisionStep = (typeof DEPROVISION_STEPS)[number];

export interface StepRecord {
  /** Absent while the step is still to do (or being retried). */
  status?: 'done' | 'failed' | 'skipped';
  attempts: number;
  lastAttemptAt?: Date;
  lastStatus?: number;
  lastError?: string;
  leaseUntil?: Date;
  leaseId?: string;
  completedAt?: Date;
  /** Why a step was skipped, or what a failed step was answered. */
  note?: string;
  response?: { status: number; body: string };
}

export interface HistoryEntry {
  at: Date;
  event: string;
  from?: ConnectionState;
  to?: ConnectionState;
  by: string;
  detail?: string;
}

/** The `connections` document. `_id` is the lower-cased connectionId. */
export interface ConnectionDocument {
  _id: string;
  connectionId: string;
  subscriptionId?: string;
  organizationId?: string;
  apiId?: string;
  state: ConnectionState;
  version: number;
  activation?: ActivateRequest;
  requestId?: string;
  receivedAt?: Date;
  decision?: Decision;
  /** An operator's decision on a held connection, recorded before its ReviewDecided job. */
  reviewRequest?: ReviewRequestRecord;
  callback?: CallbackRecord;
  /** True once the ConnectionAccepted job has been published. */
  acceptanceAnnounced?: boolean;
  /** Earlier connections of the same subscription (a buyer who left and came back). */
  previousConnectionIds?: string[];
  deactivation?: { requestId: string; receivedAt: Date; recordedAt: Date };
  /** Outcome of each deprovision-worker step. */
  steps?: Partial<Record<DeprovisionStep, StepRecord>>;
  /** A deactivation arrived before any activation. */
  tombstone?: boolean;
  history: HistoryEntry[];
  createdAt: Date;
  updatedAt: Date;
}

/** The canonical key of a connection: GUIDs compare case-insensitively. */
export function connectionKey(connectionId: string): string {
  return connectionId.toLowerCase();
}
