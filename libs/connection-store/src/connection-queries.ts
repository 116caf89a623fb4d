// Reading connections: one by id, and the operators' newest-first list with filters and a cursor;
// and the indexes every query of the repository is served by.
import type { ConnectionCollection } from './connection-collection.ts';
import {
  DEPROVISION_STEPS,
  type ConnectionDocument,
  type ConnectionState,
} from './connection-states.ts';

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

/** Which worker's work a stalled connection needs. */
export type StalledWork = 'approval' | 'deprovision';

/**
 * The connections that need a worker's work, as queries whose results together are the answer:
 * for the approval worker, a decision (`received`), a provisioning or a callback (`approved`,
 * `rejected`, `suspending`) or the announcement of an acceptance; for the deprovision worker, a
 * deactivation whose steps have not all ended. Each is served by the `state` index.
 *
 * One query per state, each naming its state as an equality: FerretDB hands such a filter to
 * its backend's index, but not an `$or` or an `$in`, and one `$or` over them all made FerretDB
 * read and decode every connection stored on each run (bench:loop flat out with 21,000 stored:
 * PostgreSQL was sending FerretDB the whole table most of the time).
 */
export function stalledQueries(
  work: StalledWork,
  untouchedSince: Date,
): Array<Record<string, unknown>> {
  const updatedAt = { $lt: untouchedSince };
  if (work === 'approval') {
    return [
      ...(['received', 'approved', 'rejected', 'suspending'] as const).map((state) => ({
        state,
        updatedAt,
      })),
      { state: 'accepted', acceptanceAnnounced: { $ne: true }, updatedAt },
    ];
  }
  return [
    {
      state: 'deactivated',
      updatedAt,
      $or: [
        { 'steps.cleanup.status': { $exists: false } },
        { 'steps.deactivationReport.status': { $exists: false } },
      ],
    },
  ];
}

/**
 * What waits for an operator, one kind at a time: held for review, a callback or a provisioning
 * given up, a deactivation with a clean-up or report step given up, a suspension not yet
 * acknowledged by Fortellis.
 */
export const ATTENTION_KINDS = [
  'pending_review',
  'callback_failed',
  'provisioning_failed',
  'steps_failed',
  'suspending',
] as const;
export type AttentionKind = (typeof ATTENTION_KINDS)[number];

/**
 * The connections of one attention kind, as a query: by state, and for `steps_failed` the
 * deactivated ones with a step given up (as the reconciler's stalled deprovisions). Served, with
 * the oldest-change-first sort, by the `state` index.
 */
export function attentionQuery(kind: AttentionKind): Record<string, unknown> {
  if (kind !== 'steps_failed') return { state: kind };
  return {
    state: 'deactivated',
    $or: DEPROVISION_STEPS.map((step) => ({ [`steps.${step}.status`]: 'failed' })),
  };
}

export class ConnectionQueries {
  readonly #connections: ConnectionCollection;

  constructor(connections: ConnectionCollection) {
    this.#connections = connections;
  }

  /**
   * Creates the indexes the workers and operators query by. Idempotent. Every query the
   * repository sends is served by one of these (or `_id`), its sort included:
   * `test/index-coverage.test.ts` records them and fails on one that is not.
   */
  async ensureIndexes(): Promise<void> {
    const { collection } = this.#connections;
    // Renamed when it gained `_id`, the list's tie-break: the old key under the old name goes.
    const existing = await collection.indexes().catch(() => []);
    if (existing.some((index) => index.name === 'subscription'))
      await collection.dropIndex('subscription');
    const newestFirst = { createdAt: -1, _id: -1 } as const;
    // The activation's look-up of earlier connections, and the list by subscription.
    await collection.createIndex(
      { subscriptionId: 1, ...newestFirst },
      { name: 'subscription_created' },
    );
    // The reconciler's stalled connections, oldest change first.
    await collection.createIndex({ state: 1, updatedAt: -1 }, { name: 'state' });
    // The operators' newest-first list, unfiltered and by each filter it offers.
    await collection.createIndex(newestFirst, { name: 'created' });
    await collection.createIndex({ state: 1, ...newestFirst }, { name: 'state_created' });
    await collection.createIndex(
      { organizationId: 1, ...newestFirst },
      { name: 'organization_created' },
    );
    await collection.createIndex({ apiId: 1, ...newestFirst }, { name: 'api_created' });
  }

  /**
   * Connections that need `work` and have not changed since `untouchedSince`, oldest change
   * first, at most `limit`: the reconciler's candidates.
   */
  async findStalled(
    work: StalledWork,
    untouchedSince: Date,
    limit: number,
  ): Promise<ConnectionDocument[]> {
    const found = await Promise.all(
      stalledQueries(work, untouchedSince).map((query) =>
        this.#connections.collection.find(query).sort({ updatedAt: 1 }).limit(limit).toArray(),
      ),
    );
    return found
      .flat()
      .sort((a, b) => a.updatedAt.getTime() - b.updatedAt.getTime())
      .slice(0, limit);
  }

  get(connectionId: string): Promise<ConnectionDocument | null> {
    return this.#connections.get(connectionId);
  }

  /**
   * The connections of one attention kind, the one waiting longest first (by last change), at
   * most `limit` + 1 (one more when there are more, for the caller to see).
   */
  needingAttention(kind: AttentionKind, limit: number): Promise<ConnectionDocument[]> {
    return this.#connections.collection
      .find(attentionQuery(kind))
      .sort({ updatedAt: 1 })
      .limit(limit + 1)
      .toArray();
  }

  /**
   * For each of `states`, when the connection that has waited longest in it last changed (absent
   * when none is in it): the operators' gauge of the review and callback backlogs. One query per
   * state, each served by the `state` index.
   */
  async oldestWaiting<S extends ConnectionState>(
    states: readonly S[],
  ): Promise<Partial<Record<S, Date>>> {
    const found = await Promise.all(
      states.map((state) =>
        this.#connections.collection.findOne(
          { state },
          { sort: { updatedAt: 1 }, projection: { updatedAt: 1 } },
        ),
      ),
    );
    return Object.fromEntries(
      states.flatMap((state, i) => {
        const doc = found[i];
        return doc === null || doc === undefined ? [] : [[state, doc.updatedAt]];
      }),
    ) as Partial<Record<S, Date>>;
  }

  /**
   * Connections matching `filter`, newest first (by creation, then id), at most `limit`, starting
   * after `after`. Returns one more than asked when there is a next page, for the caller to see.
   */
  list(filter: ConnectionFilter, limit: number, after?: ListCursor): Promise<ConnectionDocument[]> {
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
    return this.#connections.collection
      .find(query)
      .sort({ createdAt: -1, _id: -1 })
      .limit(limit + 1)
      .toArray();
  }
}
