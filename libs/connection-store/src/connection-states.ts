// The life of a connection: its states, the transitions allowed between them, and the shape of
// the document the services keep in MongoDB. Pure: no I/O. The rules are in connection-state-machine.ts.
import type { ActivateRequest, ContractIssue } from '@fortellis-admin/contracts';

/**
 * - `received`: activation stored, not yet decided.
 * - `pending_review`: held for an operator, with no time limit.
 * - `approved` / `rejected`: decided; the callback is still to be sent (for `approved`, after the
 *   buyer's account is provisioned in the provider's backend, when a provisioner is configured).
 * - `provisioning_failed`: the backend refused the account (or kept failing); nothing was sent to
 *   Fortellis, and an operator may retry.
 * - `accepted`: Fortellis acknowledged our `accepted` callback.
 * - `rejection_sent`: Fortellis acknowledged our `rejected` callback.
 * - `suspending`: an operator stopped traffic for an accepted connection; the `rejected` callback
 *   that says so is still to be sent.
 * - `suspended`: Fortellis acknowledged that `rejected` callback: traffic is stopped.
 * - `callback_failed`: the callback could not be delivered (4xx, or retries exhausted).
 * - `deactivated`: Fortellis deactivated it (also the state of a tombstone: a deactivation for a
 *   connection never seen, so that a late activation cannot revive it).
 */
export const CONNECTION_STATES = [
  'received',
  'pending_review',
  'approved',
  'rejected',
  'provisioning_failed',
  'accepted',
  'rejection_sent',
  'suspending',
  'suspended',
  'callback_failed',
  'deactivated',
] as const;

export type ConnectionState = (typeof CONNECTION_STATES)[number];

/** Allowed transitions. `deactivated` is reachable from everywhere and leads nowhere. */
export const TRANSITIONS: Readonly<Record<ConnectionState, readonly ConnectionState[]>> =
  Object.freeze({
    received: ['pending_review', 'approved', 'rejected', 'deactivated'],
    pending_review: ['approved', 'rejected', 'deactivated'],
    approved: ['accepted', 'provisioning_failed', 'callback_failed', 'deactivated'],
    rejected: ['rejection_sent', 'callback_failed', 'deactivated'],
    provisioning_failed: ['approved', 'deactivated'],
    accepted: ['suspending', 'deactivated'],
    rejection_sent: ['deactivated'],
    suspending: ['suspended', 'callback_failed', 'deactivated'],
    suspended: ['deactivated'],
    callback_failed: ['approved', 'rejected', 'suspending', 'deactivated'],
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

/**
 * What every call to an outside party records under its lease (outside-call-lease.ts): the
 * callback, the provisioning, each deprovision step.
 */
export interface OutsideCallRecord {
  attempts: number;
  lastAttemptAt?: Date;
  lastStatus?: number;
  lastError?: string;
  /** Set while one worker holds the right to call; expires so a crashed worker does not block. */
  leaseUntil?: Date;
  leaseId?: string;
  completedAt?: Date;
  /** Recorded for a failed call: what the party answered, as far as it may be kept. */
  response?: KeptResponse;
}

/**
 * What is kept of a failed call's answer: its status; its body only when it is known to hold no
 * secret (redacted and cut short); or, for an answer that broke its contract, only the problems
 * found (pointer + message, a bounded list), never the body.
 */
export interface KeptResponse {
  status: number;
  body?: string;
  problems?: ContractIssue[];
}

export interface CallbackRecord extends OutsideCallRecord {
  status: 'accepted' | 'rejected';
  outcome?: 'acknowledged' | 'failed';
}

/**
 * Credentials sealed with AES-256-GCM under the key of `PROVISIONING_CREDENTIALS_KEY`: what the
 * database holds of a buyer's credentials, and only until Fortellis acknowledged the callback
 * that carried them.
 */
export interface SealedCredentials {
  /** Which key sealed them (the first 8 hex digits of the key's SHA-256). */
  keyId: string;
  /**
   * What the seal binds them to: 2, the connection and the key (a copy moved to another
   * connection does not open); absent for what the first version sealed (the purpose alone).
   */
  version?: 2;
  iv: string;
  tag: string;
  data: string;
}

/** The buyer's account in the provider's backend, provisioned once under its lease. */
export interface ProvisioningRecord extends OutsideCallRecord {
  /** Absent while still to do (or being retried). */
  status?: 'done' | 'failed';
  /** The backend's id of the account, sent back to it on deprovisioning. */
  accountId?: string;
  /** The names of the credentials it returned (never their values). */
  credentialNames?: string[];
  /** Dropped by the write that records Fortellis' acknowledgement of the callback. */
  credentials?: SealedCredentials;
}

/** An operator's suspension of an accepted connection. */
export interface SuspensionRecord {
  reason: string;
  /** `ops:<token name>`. */
  by: string;
  at: Date;
}

/** The deprovision worker's steps, each finished once in effect and retried on its own. */
export const DEPROVISION_STEPS = ['cleanup', 'deactivationReport', 'activationReport'] as const;
export type DeprovisionStep = (typeof DEPROVISION_STEPS)[number];

export interface StepRecord extends OutsideCallRecord {
  /** Absent while the step is still to do (or being retried). */
  status?: 'done' | 'failed' | 'skipped';
  /** Why a step was skipped, or what a failed step was answered. */
  note?: string;
}

export interface HistoryEntry {
  /** When it happened; for failed attempts counted together, the first of them. */
  at: Date;
  event: string;
  from?: ConnectionState;
  to?: ConnectionState;
  by: string;
  detail?: string;
  /** Failed attempts counted into this entry (attempt-history.ts); absent for one. */
  count?: number;
  /** The last of the attempts counted into this entry. */
  lastAt?: Date;
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
  /** The buyer's backend account (with a provisioner configured). */
  provisioning?: ProvisioningRecord;
  /** When Fortellis first acknowledged the `accepted` callback. */
  acceptedAt?: Date;
  /** Set when an operator suspended the connection (stopped its traffic). */
  suspension?: SuspensionRecord;
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
