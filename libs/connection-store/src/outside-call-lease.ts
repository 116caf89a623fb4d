// The one lease of the system: the exclusive, expiring right of one worker to call an outside
// party for a connection (the Fortellis callback, a deprovision step). The record it guards lives
// at a path of the connection document (`callback`, `steps.cleanup`, ...): acquiring counts the
// attempt, releasing records why the attempt failed, completing records how the call ended. Pure:
// it decides and builds the updates; the stores apply them under the connection's lock.
import type { UpdateFilter } from 'mongodb';
import type { ContractIssue } from '@fortellis-admin/contracts';
import { placeFailedAttempt } from './attempt-history.ts';
import { historyEntry, outcomeDetail } from './connection-state-machine.ts';
import type { ConnectionDocument, HistoryEntry, KeptResponse } from './connection-states.ts';

/** What a leased record holds, whichever call it guards. */
export interface LeasedRecord {
  leaseUntil?: Date;
  leaseId?: string;
}

/** Whether a lease on `record` may be taken now: a live lease of another holder says no. */
export function leaseIsLive(record: LeasedRecord | undefined, now: Date): boolean {
  return record?.leaseUntil !== undefined && record.leaseUntil > now;
}

/** Whether `leaseId` is the lease `record` holds now. */
export function holdsLease(record: LeasedRecord | undefined, leaseId: string): boolean {
  return record?.leaseId === leaseId;
}

type Update = UpdateFilter<ConnectionDocument>;

/**
 * A lease just taken. `previousLeaseId` is the expired lease of an earlier attempt that never
 * recorded its end (its worker died or lost the database): that attempt may have made the call,
 * so its outcome must be looked up before calling again.
 */
export interface AcquiredLease {
  leaseId: string;
  previousLeaseId?: string;
}

/** The lease taken over `record`, naming the earlier attempt's lease if one was left behind. */
export function acquired(leaseId: string, record: LeasedRecord | undefined): AcquiredLease {
  return record?.leaseId === undefined ? { leaseId } : { leaseId, previousLeaseId: record.leaseId };
}

/** Takes the lease: counts the attempt and stamps its start; `set` adds fields of the record. */
export function acquireLease(
  path: string,
  lease: { leaseId: string; now: Date; leaseMs: number },
  set: Record<string, unknown> = {},
): Update {
  return {
    $set: {
      ...set,
      [`${path}.leaseUntil`]: new Date(lease.now.getTime() + lease.leaseMs),
      [`${path}.leaseId`]: lease.leaseId,
      [`${path}.lastAttemptAt`]: lease.now,
      updatedAt: lease.now,
    },
    $inc: { [`${path}.attempts`]: 1, version: 1 },
  };
}

/** The record of a lease taken by the insert that creates the document: its first attempt. */
export function newLeaseRecord(lease: { leaseId: string; now: Date; leaseMs: number }) {
  return {
    attempts: 1,
    lastAttemptAt: lease.now,
    leaseUntil: new Date(lease.now.getTime() + lease.leaseMs),
    leaseId: lease.leaseId,
  };
}

/**
 * Two updates of one document as one write (a step's end and the next step's lease, say). Each
 * operator's fields are joined; both may count the version, which moves once.
 */
export function mergeUpdates(first: Update, second: Update): Update {
  const merged: Record<string, Record<string, unknown>> = {};
  for (const update of [first, second])
    for (const [operator, fields] of Object.entries(update))
      merged[operator] = { ...merged[operator], ...(fields as Record<string, unknown>) };
  return merged;
}

/**
 * Gives the lease back after a failed attempt, recording what went wrong in the record and, as
 * `{event}` by `by`, in the history: each failed attempt is part of the connection's story, told
 * once however often it repeats (`history` is the connection's, read under its lock; see
 * attempt-history.ts).
 */
export function releaseLease(
  path: string,
  attempt: { status?: number; error: string },
  now: Date,
  failed: { event: string; by: string },
  history: readonly HistoryEntry[] = [],
): Update {
  const placement = placeFailedAttempt(
    history,
    historyEntry({
      at: now,
      ...failed,
      detail: outcomeDetail({ httpStatus: attempt.status, error: attempt.error }),
    }),
  );
  return {
    $set: {
      [`${path}.lastError`]: attempt.error,
      ...(attempt.status === undefined ? {} : { [`${path}.lastStatus`]: attempt.status }),
      ...('index' in placement ? { [`history.${placement.index}`]: placement.entry } : {}),
      updatedAt: now,
    },
    $unset: leaseFields(path),
    $inc: { version: 1 },
    ...('push' in placement ? { $push: { history: placement.push } } : {}),
  };
}

/** What a call's end records: the HTTP status, the error, what may be kept of a failed answer. */
export interface CallEnd {
  httpStatus?: number | undefined;
  error?: string | undefined;
  /**
   * The answer's body, only when it is known to hold no secret (the caller decides, and redacts);
   * kept cut to {@link KEPT_RESPONSE_CHARS} when the call failed with an answer.
   */
  body?: string | undefined;
  /** For an answer that broke its contract: the problems found, kept instead of any body. */
  problems?: readonly ContractIssue[] | undefined;
  failed: boolean;
}

/** The answer kept of a failed call: enough for an operator to see what the party said. */
export const KEPT_RESPONSE_CHARS = 2000;

/** At most this many contract problems are kept of an answer, each cut to KEPT_PROBLEM_CHARS. */
export const KEPT_PROBLEMS = 20;
export const KEPT_PROBLEM_CHARS = 200;

const cut = (text: string, max: number) => (text.length > max ? `${text.slice(0, max)}…` : text);

/** The problems of a broken answer as they are kept: the first ones, each cut short. */
export function keptProblems(problems: readonly ContractIssue[]): ContractIssue[] {
  const kept = problems.slice(0, KEPT_PROBLEMS).map((problem) => ({
    pointer: cut(problem.pointer, KEPT_PROBLEM_CHARS),
    message: cut(problem.message, KEPT_PROBLEM_CHARS),
  }));
  if (problems.length > KEPT_PROBLEMS)
    kept.push({ pointer: '', message: `and ${problems.length - KEPT_PROBLEMS} more problems` });
  return kept;
}

/** What is kept of a failed call's answer: its status, and its problems or its (vouched) body. */
function keptResponse(status: number, end: CallEnd): KeptResponse {
  if (end.problems !== undefined) return { status, problems: keptProblems(end.problems) };
  return {
    status,
    ...(end.body === undefined ? {} : { body: end.body.slice(0, KEPT_RESPONSE_CHARS) }),
  };
}

/**
 * Ends the call under the lease: `set` carries the record's own outcome fields (and, for the
 * callback, the connection's new state); the lease is dropped.
 */
export function completeLease(
  path: string,
  end: CallEnd,
  now: Date,
  set: Record<string, unknown>,
  history?: ConnectionDocument['history'][number],
): Update {
  return {
    $set: {
      ...set,
      [`${path}.completedAt`]: now,
      ...(end.httpStatus === undefined ? {} : { [`${path}.lastStatus`]: end.httpStatus }),
      ...(end.error === undefined ? {} : { [`${path}.lastError`]: end.error }),
      ...(end.failed && end.httpStatus !== undefined
        ? { [`${path}.response`]: keptResponse(end.httpStatus, end) }
        : {}),
      updatedAt: now,
    },
    $unset: leaseFields(path),
    $inc: { version: 1 },
    ...(history === undefined ? {} : { $push: { history } }),
  };
}

/** The fields of an ended call to clear when an operator reopens it; attempts are kept. */
export function reopenedFields(path: string, outcomeField: string): string[] {
  return [`${path}.${outcomeField}`, `${path}.completedAt`, `${path}.response`];
}

function leaseFields(path: string): Record<string, ''> {
  return { [`${path}.leaseUntil`]: '', [`${path}.leaseId`]: '' };
}
