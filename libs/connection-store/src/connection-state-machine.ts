// The rules of a connection's life, as pure functions: which state each event leads to, what a
// repeated or late activation means, what an operator may reopen, and the history entries that
// record it all. The repository only stores what these decide.
import {
  CONNECTION_STATES,
  TRANSITIONS,
  type ConnectionDocument,
  type ConnectionState,
  type DecisionAction,
  type DeprovisionStep,
  type HistoryEntry,
  type ReviewRequestRecord,
} from './connection-states.ts';

/** The states a transition to `to` may start from. */
export function statesLeadingTo(to: ConnectionState): ConnectionState[] {
  return CONNECTION_STATES.filter((from) => TRANSITIONS[from].includes(to));
}

/** Of the states a caller expects, those from which the machine allows a move to `to`. */
export function allowedStarts(
  expected: readonly ConnectionState[],
  to: ConnectionState,
): ConnectionState[] {
  const allowed = statesLeadingTo(to);
  return expected.filter((state) => allowed.includes(state));
}

/** The state a decision leads to. */
export function stateAfterDecision(action: DecisionAction): ConnectionState {
  if (action === 'approve') return 'approved';
  if (action === 'reject') return 'rejected';
  return 'pending_review';
}

/** The history event of a decision. */
export function decisionEvent(action: DecisionAction): string {
  return action === 'review' ? 'held_for_review' : `decided_${action}`;
}

/**
 * The states whose callback is still to be sent, and the status each sends: `accepted` for an
 * approval, `rejected` for a rejection and for a suspension (which stops an accepted connection's
 * traffic).
 */
export type CallbackDueState = 'approved' | 'rejected' | 'suspending';

export function callbackStatusFor(state: CallbackDueState): 'accepted' | 'rejected' {
  return state === 'approved' ? 'accepted' : 'rejected';
}

/** Where a callback's end leads: acknowledged (accepted / rejection_sent / suspended) or failed. */
export function stateAfterCallback(
  from: CallbackDueState,
  outcome: 'acknowledged' | 'failed',
): ConnectionState {
  if (outcome === 'failed') return 'callback_failed';
  if (from === 'suspending') return 'suspended';
  return from === 'approved' ? 'accepted' : 'rejection_sent';
}

export function callbackEvent(from: CallbackDueState, outcome: 'acknowledged' | 'failed'): string {
  if (outcome === 'failed') return 'callback_failed';
  return from === 'suspending'
    ? 'suspension_acknowledged'
    : `callback_${callbackStatusFor(from)}_acknowledged`;
}

/**
 * Where a failed callback goes back to when an operator reopens it: the state that sends the same
 * callback again (a suspension's, or the decision's). Null when the connection's callback has not
 * failed.
 */
export function reopenedCallbackState(
  connection: Pick<ConnectionDocument, 'state' | 'decision' | 'suspension'> | null,
): CallbackDueState | null {
  if (connection?.state !== 'callback_failed') return null;
  if (connection.suspension !== undefined) return 'suspending';
  const action = connection.decision?.action;
  if (action === 'approve') return 'approved';
  if (action === 'reject') return 'rejected';
  return null;
}

/** The deprovision steps that ended failed, which an operator may reopen. */
export function failedSteps(
  connection: Pick<ConnectionDocument, 'steps'> | null,
): DeprovisionStep[] {
  return Object.entries(connection?.steps ?? {})
    .filter(([, record]) => record.status === 'failed')
    .map(([step]) => step as DeprovisionStep);
}

/**
 * Whether an operator's retry requested at `requestedAt` reopens this connection's callback: it
 * failed, and no later than the request (a retry job delivered again after a newer failure does
 * not reopen that one).
 */
export function callbackFailedBefore(
  connection: Pick<ConnectionDocument, 'state' | 'callback'>,
  requestedAt: Date,
): boolean {
  const failedAt = connection.callback?.completedAt;
  return (
    connection.state === 'callback_failed' && (failedAt === undefined || failedAt <= requestedAt)
  );
}

/** Whether an operator's retry requested at `requestedAt` reopens the failed provisioning. */
export function provisioningFailedBefore(
  connection: Pick<ConnectionDocument, 'state' | 'provisioning'>,
  requestedAt: Date,
): boolean {
  const failedAt = connection.provisioning?.completedAt;
  return (
    connection.state === 'provisioning_failed' &&
    (failedAt === undefined || failedAt <= requestedAt)
  );
}

/** The failed deprovision steps an operator's retry requested at `requestedAt` reopens. */
export function stepsFailedBefore(
  connection: Pick<ConnectionDocument, 'steps'>,
  requestedAt: Date,
): DeprovisionStep[] {
  return failedSteps(connection).filter((step) => {
    const failedAt = connection.steps?.[step]?.completedAt;
    return failedAt === undefined || failedAt <= requestedAt;
  });
}

/**
 * What an activation means for a connection already stored under its id: the same activation
 * again (`existing`), or one that arrived after the connection was deactivated (`stale`: never to
 * be acted on), which is recorded once (`stale-first`) when the connection had no activation yet
 * (a tombstone written by an earlier deactivation).
 */
export function repeatedActivation(
  existing: Pick<ConnectionDocument, 'state' | 'activation'>,
): 'existing' | 'stale' | 'stale-first' {
  if (existing.state !== 'deactivated') return 'existing';
  return existing.activation === undefined ? 'stale-first' : 'stale';
}

/**
 * Whether Fortellis acknowledged an `accepted` callback for the connection: only then did the buyer
 * get the API, so only then is there an integration to report as ended. (A suspension later does
 * not undo it: the buyer had the API.)
 */
export function wasAccepted(
  connection: Pick<ConnectionDocument, 'callback' | 'acceptedAt'>,
): boolean {
  if (connection.acceptedAt !== undefined) return true;
  return (
    connection.callback?.status === 'accepted' && connection.callback.outcome === 'acknowledged'
  );
}

/**
 * Whether the backend may hold an account for the connection: once provisioning was attempted, a
 * call may have created one, even if its answer was never recorded (the connection deactivated
 * while it was on the wire), so the clean-up must run.
 */
export function provisioningAttempted(
  connection: Pick<ConnectionDocument, 'provisioning'>,
): boolean {
  return (connection.provisioning?.attempts ?? 0) > 0;
}

/**
 * Until when a provisioning call may still be on the wire (its lease), or null. A clean-up waits
 * for it, so that it never runs before the account it must remove is created.
 */
export function provisioningInFlightUntil(
  connection: Pick<ConnectionDocument, 'provisioning'>,
  now: Date,
): Date | null {
  const until = connection.provisioning?.leaseUntil;
  return until !== undefined && until > now ? until : null;
}

/**
 * What an operator's suspension means: only an accepted connection can be suspended (`suspend`);
 * the same suspension again while it is on its way or done is a repeat; anything else a conflict.
 */
export function suspensionOutcome(
  connection: Pick<ConnectionDocument, 'state' | 'suspension'>,
  request: { reason: string },
): 'suspend' | 'repeat' | 'conflict' {
  if (connection.state === 'accepted') return 'suspend';
  const taken = connection.suspension;
  if (
    taken !== undefined &&
    taken.reason === request.reason &&
    (connection.state === 'suspending' || connection.state === 'suspended')
  )
    return 'repeat';
  return 'conflict';
}

/**
 * What an operator's review decision means for a connection: the first one for a held connection is
 * recorded; the same one again, while it is still held, is a repeat (a double click); any other,
 * or any decision once the connection has moved on, is a conflict, answered with what was taken.
 */
export function reviewRequestOutcome(
  connection: Pick<ConnectionDocument, 'state' | 'reviewRequest'>,
  request: Pick<ReviewRequestRecord, 'action' | 'reason'>,
): 'record' | 'repeat' | 'conflict' {
  if (connection.state !== 'pending_review') return 'conflict';
  const taken = connection.reviewRequest;
  if (taken === undefined) return 'record';
  return taken.action === request.action && taken.reason === request.reason ? 'repeat' : 'conflict';
}

/** A deactivation changes a connection unless it is already deactivated. */
export function deactivationChanges(existing: Pick<ConnectionDocument, 'state'>): boolean {
  return existing.state !== 'deactivated';
}

/** One history entry; `detail` only when there is one. */
export function historyEntry(entry: {
  at: Date;
  event: string;
  by: string;
  from?: ConnectionState;
  to?: ConnectionState;
  detail?: string | undefined;
}): HistoryEntry {
  const { detail, ...rest } = entry;
  return { ...rest, ...(detail === undefined || detail === '' ? {} : { detail }) };
}

/** The detail line of a finished outside call: `HTTP 503: reason: note`, parts as present. */
export function outcomeDetail(parts: {
  httpStatus?: number | undefined;
  error?: string | undefined;
  note?: string | undefined;
}): string {
  const status = parts.httpStatus === undefined ? undefined : `HTTP ${parts.httpStatus}`;
  // A failed attempt's error is often just its status again: say it once.
  return [status, parts.error === status ? undefined : parts.error, parts.note]
    .filter((part): part is string => part !== undefined)
    .join(': ');
}
