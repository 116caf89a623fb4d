// What every store of connections shares: the collection, the clock, and the two ways a change is
// written. On MongoDB a single-document conditional update is atomic, so the condition (state,
// lease, version) is the filter and nothing else is paid. FerretDB v1 evaluates the filter and
// writes the document back in separate steps, on SQLite and on PostgreSQL alike (its UpdateAll is
// `UPDATE ... SET _jsonb = $1 WHERE _id = $2` after a separate query), so two conditional updates
// can both "win": there every write also holds the connection's Redis lock (connection-lock.ts).
// Which of the two applies is detected once at start-up (`detectWriteGuard`) and logged. Every
// read and write goes through the collection opened here with the concerns a replica set's
// failover needs (`CONNECTION_CONCERNS`), so no store can forget them.
import type { Collection, CollectionOptions, Db, Filter, UpdateFilter } from 'mongodb';
import type { ConnectionLocks } from './connection-lock.ts';
import { connectionKey, type ConnectionDocument } from './connection-states.ts';

export const CONNECTIONS_COLLECTION = 'connections';

/**
 * What the connections ask of a replica set. Each write records a decision, a lease that allows an
 * outside call, or how that call ended: it is acknowledged only once a majority holds it in its
 * journal, so no failover can roll back a write a worker has acted on (a write acknowledged by the
 * primary alone is lost when that primary fails before its secondaries copy it). Each read decides
 * what to do next: read concern `majority` sees only writes that no failover can roll back. A
 * write that finds no majority within `wtimeoutMS` fails like a dropped connection (its outcome
 * unknown: the job retries, and the leases and the call-outcome ledger settle it) rather than
 * holding the job. The driver's retryable writes (on by default) resend a write once after a
 * failover, and the server applies it once. FerretDB accepts both concerns (it has no replicas).
 */
export const CONNECTION_CONCERNS = {
  writeConcern: { w: 'majority', journal: true, wtimeoutMS: 10_000 },
  readConcern: { level: 'majority' },
} as const satisfies CollectionOptions;

const DUPLICATE_KEY = 11000;

/** True when MongoDB refused an insert because the `_id` exists. */
export function isDuplicateKey(error: unknown): boolean {
  return (
    typeof error === 'object' &&
    error !== null &&
    (error as { code?: unknown }).code === DUPLICATE_KEY
  );
}

/**
 * How writes of one connection are kept from interleaving: `atomic` where the server's conditional
 * single-document updates are atomic (MongoDB), `locked` (a Redis lock around each write) where
 * they are not (FerretDB).
 */
export type WriteGuard = { kind: 'atomic' } | { kind: 'locked'; locks: ConnectionLocks };

/** What the server is, as far as writes are concerned: FerretDB says so in `buildInfo`. */
export async function detectWriteGuard(
  db: Db,
  locks: ConnectionLocks,
): Promise<{ guard: WriteGuard; server: string }> {
  const info = await db.admin().command({ buildInfo: 1 });
  const ferret = (info as { ferretdbVersion?: unknown }).ferretdbVersion;
  if (typeof ferret === 'string')
    return { guard: { kind: 'locked', locks }, server: `FerretDB ${ferret}` };
  return { guard: { kind: 'atomic' }, server: `MongoDB ${String(info.version)}` };
}

/** Thrown by `apply` in atomic mode when the document moved on since it was read. */
class VersionConflict extends Error {}

/** How often a read-decide-write is re-run after losing a race, before giving up. */
const CONFLICT_ROUNDS = 8;

export class ConnectionCollection {
  readonly collection: Collection<ConnectionDocument>;
  readonly guard: WriteGuard;
  readonly now: () => Date;

  constructor(db: Db, guard: WriteGuard, now: () => Date = () => new Date()) {
    this.collection = db.collection<ConnectionDocument>(
      CONNECTIONS_COLLECTION,
      CONNECTION_CONCERNS,
    );
    this.guard = guard;
    this.now = now;
  }

  get(connectionId: string): Promise<ConnectionDocument | null> {
    return this.collection.findOne({ _id: connectionKey(connectionId) });
  }

  /**
   * Runs a read-decide-write of one connection so that no other write interleaves: under the
   * connection's lock (FerretDB), or, on MongoDB, optimistically: `apply` then writes only if the
   * version read is still current, and a lost race runs `work` again on a fresh read.
   */
  async withLock<T>(connectionId: string, work: () => Promise<T>): Promise<T> {
    if (this.guard.kind === 'locked') return this.guard.locks.withLock(connectionId, work);
    for (let round = 1; ; round += 1) {
      try {
        return await work();
      } catch (error) {
        if (!(error instanceof VersionConflict) || round >= CONFLICT_ROUNDS) throw error;
      }
    }
  }

  /**
   * Applies `update` to `current`, read inside `withLock`. Under the lock nothing can change the
   * document between the read and this write, so it filters on `_id` alone (FerretDB answers that
   * fastest); on MongoDB it filters on the version read as well, and a document that moved on
   * makes `withLock` run its work again.
   */
  async apply(
    current: ConnectionDocument,
    update: UpdateFilter<ConnectionDocument>,
  ): Promise<ConnectionDocument | null> {
    if (this.guard.kind === 'locked')
      return this.collection.findOneAndUpdate({ _id: current._id }, update, {
        returnDocument: 'after',
      });
    const updated = await this.collection.findOneAndUpdate(
      { _id: current._id, version: current.version },
      update,
      { returnDocument: 'after' },
    );
    if (updated === null) throw new VersionConflict(`connection ${current._id} moved on`);
    return updated;
  }

  /**
   * One write whose precondition is its filter (the state, the lease held): no read before it.
   * Atomic on MongoDB; on FerretDB made so by the connection's lock. Null when the precondition
   * does not hold.
   */
  applyIf(
    connectionId: string,
    condition: Filter<ConnectionDocument>,
    update: UpdateFilter<ConnectionDocument>,
  ): Promise<ConnectionDocument | null> {
    const _id = connectionKey(connectionId);
    if (this.guard.kind === 'atomic')
      return this.collection.findOneAndUpdate({ ...condition, _id }, update, {
        returnDocument: 'after',
      });
    // FerretDB hands each top-level equality of the filter to PostgreSQL, which may then read the
    // `state` index as well as `_id`'s: every connection in that state (all the accepted ones, for
    // a deactivation), a cost that grows with the data. Under `$and` the condition stays with
    // FerretDB, which tests it on the one document found by `_id`. The same filter on MongoDB.
    const filter: Filter<ConnectionDocument> =
      Object.keys(condition).length === 0 ? { _id } : { _id, $and: [condition] };
    return this.guard.locks.withLock(connectionId, () =>
      this.collection.findOneAndUpdate(filter, update, { returnDocument: 'after' }),
    );
  }
}
