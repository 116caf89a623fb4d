// Reading connections: one by id, and the operators' newest-first list with filters and a cursor;
// and the indexes those reads (and the activation's look-up of earlier connections) are served by.
import type { ConnectionCollection } from './connection-collection.ts';
import type { ConnectionDocument, ConnectionState } from './connection-states.ts';

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

export class ConnectionQueries {
  readonly #connections: ConnectionCollection;

  constructor(connections: ConnectionCollection) {
    this.#connections = connections;
  }

  /** Creates the indexes the workers and operators query by. Idempotent. */
  async ensureIndexes(): Promise<void> {
    const { collection } = this.#connections;
    await collection.createIndex({ subscriptionId: 1, createdAt: -1 }, { name: 'subscription' });
    await collection.createIndex({ state: 1, updatedAt: -1 }, { name: 'state' });
  }

  get(connectionId: string): Promise<ConnectionDocument | null> {
    return this.#connections.get(connectionId);
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
