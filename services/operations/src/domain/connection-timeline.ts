// A connection's whole story for an operator: every event of its history in order (received,
// decided by which rule or operator, provisioning, each callback attempt with its answer,
// suspension, deactivation, clean-up and status reports), each with a sentence that says what it
// means, plus Fortellis' own calls as the ingress answered them. Pure: the document in, the story
// out. And the search that finds a connection by any id an operator is given.
import type {
  ConnectionDocument,
  ConnectionFilter,
  HistoryEntry,
} from '@fortellis-admin/connection-store';
import { failedWorkOf } from './failed-work-retry.ts';
import type { OperationsRepository } from './ports.ts';

/** What an event is about, for the page to group and colour. */
export type TimelineTopic =
  | 'fortellis'
  | 'decision'
  | 'operator'
  | 'provisioning'
  | 'callback'
  | 'suspension'
  | 'deactivation'
  | 'cleanup'
  | 'report';

export interface TimelineEvent {
  at: string;
  /** The history's event name (stable: match on it), e.g. `callback_attempt_failed`. */
  event: string;
  topic: TimelineTopic;
  /** What happened, in a sentence. */
  title: string;
  /** Who did it: `rules`, `ops:<operator>`, a service, or `fortellis`. */
  by: string;
  from?: string;
  to?: string;
  /** The rule and reason, the HTTP answer or error, the request id. */
  detail?: string;
  /** True when the event marks something that went wrong (a failed attempt, a give-up). */
  problem: boolean;
  /** For failed attempts counted into one event: how many, and when the last was (`at`: the first). */
  attempts?: number;
  lastAt?: string;
}

export interface ConnectionTimeline extends ReturnType<typeof connectionIdentity> {
  suspension: { reason: string; by: string; at: string } | null;
  /** Earlier connections of the same subscription (a buyer who left and came back). */
  previousConnectionIds: string[];
  events: TimelineEvent[];
  /** The operators' actions the connection accepts now (each a POST on the connection). */
  actions: OperatorAction[];
}

export type OperatorAction = 'approve' | 'reject' | 'suspend' | 'retry';

/** The operators' actions a connection in this state accepts. */
export function operatorActions(connection: ConnectionDocument): OperatorAction[] {
  if (connection.state === 'pending_review') return ['approve', 'reject'];
  if (connection.state === 'accepted') return ['suspend'];
  return failedWorkOf(connection) === null ? [] : ['retry'];
}

const STEP_NAMES: Readonly<Record<string, string>> = {
  cleanup: 'Backend clean-up',
  deactivationReport: 'Deactivation report to the status API',
  activationReport: 'Activation report to the status API',
};

const FIXED: Readonly<Record<string, { topic: TimelineTopic; title: string; problem?: true }>> = {
  activate_called: { topic: 'fortellis', title: 'Fortellis called POST /activate' },
  deactivate_called: { topic: 'fortellis', title: 'Fortellis called POST /deactivate' },
  activation_received: { topic: 'fortellis', title: 'Activation stored' },
  stale_activation: {
    topic: 'fortellis',
    title: 'Activation for a connection already deactivated: recorded, not acted on',
  },
  decided_approve: { topic: 'decision', title: 'Approved' },
  decided_reject: { topic: 'decision', title: 'Rejected' },
  held_for_review: { topic: 'decision', title: 'Held for an operator’s review' },
  operator_approve_requested: { topic: 'operator', title: 'Operator asked to approve' },
  operator_reject_requested: { topic: 'operator', title: 'Operator asked to reject' },
  operator_retry_callback: { topic: 'operator', title: 'Operator retried the callback' },
  operator_retry_provisioning: { topic: 'operator', title: 'Operator retried the provisioning' },
  operator_retry_steps: { topic: 'operator', title: 'Operator retried the failed steps' },
  provisioned: { topic: 'provisioning', title: 'Buyer’s account provisioned in the backend' },
  provisioning_attempt_failed: {
    topic: 'provisioning',
    title: 'Provisioning attempt failed: retrying',
    problem: true,
  },
  provisioning_failed: {
    topic: 'provisioning',
    title: 'Provisioning given up: waits for an operator',
    problem: true,
  },
  callback_attempt_failed: {
    topic: 'callback',
    title: 'Callback attempt failed: retrying',
    problem: true,
  },
  callback_accepted_acknowledged: {
    topic: 'callback',
    title: 'Fortellis acknowledged the accepted callback',
  },
  callback_rejected_acknowledged: {
    topic: 'callback',
    title: 'Fortellis acknowledged the rejected callback',
  },
  callback_failed: {
    topic: 'callback',
    title: 'Callback given up: waits for an operator',
    problem: true,
  },
  suspension_requested: { topic: 'suspension', title: 'Operator suspended the connection' },
  suspension_acknowledged: {
    topic: 'suspension',
    title: 'Fortellis acknowledged the suspension (rejected): traffic stopped',
  },
  deactivated: { topic: 'deactivation', title: 'Deactivation recorded' },
  deactivated_before_activation: {
    topic: 'deactivation',
    title: 'Deactivation recorded before any activation',
  },
};

/** The topic, sentence and problem flag of one history event. */
export function describeEvent(event: string): Pick<TimelineEvent, 'topic' | 'title' | 'problem'> {
  const fixed = FIXED[event];
  if (fixed !== undefined)
    return { topic: fixed.topic, title: fixed.title, problem: fixed.problem === true };
  const step = /^(cleanup|deactivationReport|activationReport)_(.+)$/.exec(event);
  if (step !== null) {
    const [, name = '', outcome = ''] = step;
    const topic: TimelineTopic = name === 'cleanup' ? 'cleanup' : 'report';
    const what = STEP_NAMES[name] ?? name;
    switch (outcome) {
      case 'done':
        return { topic, title: `${what}: done`, problem: false };
      case 'skipped':
        return { topic, title: `${what}: skipped`, problem: false };
      case 'failed':
        return { topic, title: `${what}: given up, waits for an operator`, problem: true };
      case 'attempt_failed':
        return { topic, title: `${what}: attempt failed, retrying`, problem: true };
    }
  }
  return { topic: 'operator', title: event.replaceAll('_', ' '), problem: false };
}

function fromHistory(entry: HistoryEntry): TimelineEvent {
  return {
    at: entry.at.toISOString(),
    event: entry.event,
    ...describeEvent(entry.event),
    by: entry.by,
    ...(entry.from === undefined ? {} : { from: entry.from }),
    ...(entry.to === undefined ? {} : { to: entry.to }),
    ...countedDetail(entry),
  };
}

/**
 * The detail of an entry, saying so when it counts repeated failed attempts: "3 attempts between
 * X and Y; the last: HTTP 429".
 */
function countedDetail(entry: HistoryEntry): Pick<TimelineEvent, 'detail' | 'attempts' | 'lastAt'> {
  if (entry.count === undefined || entry.count < 2 || entry.lastAt === undefined)
    return entry.detail === undefined ? {} : { detail: entry.detail };
  const lastAt = entry.lastAt.toISOString();
  const span = `${entry.count} attempts between ${entry.at.toISOString()} and ${lastAt}`;
  return {
    detail: entry.detail === undefined ? span : `${span}; the last: ${entry.detail}`,
    attempts: entry.count,
    lastAt,
  };
}

/** Fortellis' calls, as the ingress received and answered them (before any worker ran). */
function fortellisCalls(connection: ConnectionDocument): TimelineEvent[] {
  const calls: TimelineEvent[] = [];
  const call = (event: string, at: Date, requestId: string | undefined) =>
    calls.push({
      at: at.toISOString(),
      event,
      ...describeEvent(event),
      by: 'fortellis',
      ...(requestId === undefined ? {} : { detail: `request ${requestId}: answered 200` }),
    });
  if (connection.activation !== undefined && connection.receivedAt !== undefined)
    call('activate_called', connection.receivedAt, connection.requestId);
  if (connection.deactivation !== undefined)
    call(
      'deactivate_called',
      connection.deactivation.receivedAt,
      connection.deactivation.requestId,
    );
  return calls;
}

/** Which connection it is: its ids, its organization, its API, and where it stands. */
export function connectionIdentity(connection: ConnectionDocument) {
  return {
    connectionId: connection.connectionId,
    subscriptionId: connection.subscriptionId ?? null,
    organizationId: connection.organizationId ?? null,
    organizationName: connection.activation?.organizationInfo.name ?? null,
    apiId: connection.apiId ?? null,
    state: connection.state,
  };
}

/** The connection's story, oldest first; Fortellis' call comes before what it caused at a tie. */
export function connectionTimeline(connection: ConnectionDocument): ConnectionTimeline {
  const events = [...fortellisCalls(connection), ...connection.history.map(fromHistory)]
    .map((event, index) => ({ event, index }))
    .sort((a, b) => a.event.at.localeCompare(b.event.at) || a.index - b.index)
    .map(({ event }) => event);
  const { suspension } = connection;
  return {
    ...connectionIdentity(connection),
    suspension:
      suspension === undefined
        ? null
        : { reason: suspension.reason, by: suspension.by, at: suspension.at.toISOString() },
    previousConnectionIds: connection.previousConnectionIds ?? [],
    events,
    actions: operatorActions(connection),
  };
}

/** Which id an operator's search matched. */
export type SearchMatch = 'connectionId' | 'subscriptionId' | 'organizationId';

/** How many connections a search returns for a subscription or an organization at most. */
export const SEARCH_LIMIT = 50;

/**
 * Finds the connections an id names: the connection itself, the connections of a subscription
 * (a buyer who left and came back has several), or an organization's. Each query is one the
 * repository's indexes serve (`_id`, and the list's filters).
 */
export async function searchConnections(
  repo: Pick<OperationsRepository, 'get' | 'list'>,
  query: string,
): Promise<Array<{ matchedBy: SearchMatch; connection: ConnectionDocument }>> {
  const id = query.trim();
  const byFilter = async (matchedBy: SearchMatch, filter: ConnectionFilter) =>
    (await repo.list(filter, SEARCH_LIMIT))
      .slice(0, SEARCH_LIMIT)
      .map((connection) => ({ matchedBy, connection }));
  const [one, subscription, organization] = await Promise.all([
    repo.get(id),
    byFilter('subscriptionId', { subscriptionId: id }),
    byFilter('organizationId', { organizationId: id }),
  ]);
  const found = [
    ...(one === null ? [] : [{ matchedBy: 'connectionId' as const, connection: one }]),
    ...subscription,
    ...organization,
  ];
  const seen = new Set<string>();
  return found.filter(({ connection }) => !seen.has(connection._id) && seen.add(connection._id));
}
