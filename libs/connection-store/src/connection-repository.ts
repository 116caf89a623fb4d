// The connections collection as the services see it: one object over the stores split by concern
// (queries, activations and decisions, the lease of every outside call, the callback, the backend
// account, deactivations and their steps). Every change is one single-document update whose
// condition holds when it is written (atomic on MongoDB, under the connection's lock on FerretDB:
// connection-collection.ts), so two workers or a redelivered job can never both act. Works on
// MongoDB and on FerretDB: no transactions, no change streams.
import type { Db } from 'mongodb';
import { AppError, ERROR_CODES } from '@fortellis-admin/contracts';
import type { Cluster, Redis } from 'ioredis';
import { ActivationStore } from './activation-store.ts';
import { CallLeaseStore } from './call-lease-store.ts';
import { CallbackStore } from './callback-store.ts';
import {
  ConnectionCollection,
  detectWriteGuard,
  type WriteGuard,
} from './connection-collection.ts';
import { ConnectionLocks } from './connection-lock.ts';
import { ConnectionQueries } from './connection-queries.ts';
import type { ConnectionDocument } from './connection-states.ts';
import { DeprovisionStore } from './deprovision-store.ts';
import { ProvisioningStore } from './provisioning-store.ts';

export class ConnectionRepository {
  readonly queries: ConnectionQueries;
  readonly activations: ActivationStore;
  readonly leases: CallLeaseStore;
  readonly callbacks: CallbackStore;
  readonly provisioning: ProvisioningStore;
  readonly deprovisions: DeprovisionStore;

  readonly writeGuard: WriteGuard;

  /** A repository whose writes are kept apart by `guard` (see `ConnectionRepository.open`). */
  constructor(db: Db, guard: WriteGuard, now: () => Date = () => new Date()) {
    this.writeGuard = guard;
    const connections = new ConnectionCollection(db, guard, now);
    this.queries = new ConnectionQueries(connections);
    this.activations = new ActivationStore(connections);
    this.leases = new CallLeaseStore(connections);
    this.callbacks = new CallbackStore(connections, this.activations);
    this.provisioning = new ProvisioningStore(connections, this.activations);
    this.deprovisions = new DeprovisionStore(connections);
  }

  /**
   * The repository for a service: asks the server what it is and pays the Redis lock only where
   * conditional updates are not atomic (FerretDB), saying which in one log line.
   */
  static async open(
    db: Db,
    redis: Redis | Cluster,
    options: {
      prefix: string;
      logger: { info(fields: object, message: string): void };
      /** Replicas that must hold a connection's lock before it counts (ACK_REPLICAS). */
      replicas?: number;
    },
  ): Promise<ConnectionRepository> {
    const { guard, server } = await detectWriteGuard(
      db,
      new ConnectionLocks(redis, {
        prefix: options.prefix,
        replicaWait: { replicas: options.replicas ?? 0 },
      }),
    );
    options.logger.info(
      { server, writes: guard.kind },
      guard.kind === 'atomic'
        ? 'connection writes: conditional updates, atomic on this server'
        : "connection writes: a Redis lock around each (this server's updates are not atomic)",
    );
    return new ConnectionRepository(db, guard);
  }

  /** A repository whose every write holds the connection's Redis lock: right on any server. */
  static locked(
    db: Db,
    redis: Redis | Cluster,
    prefix: string,
    replicas = 0,
  ): ConnectionRepository {
    return new ConnectionRepository(db, {
      kind: 'locked',
      locks: new ConnectionLocks(redis, { prefix, replicaWait: { replicas } }),
    });
  }

  // Reads.
  readonly ensureIndexes: ConnectionQueries['ensureIndexes'] = () => this.queries.ensureIndexes();
  readonly get: ConnectionQueries['get'] = (connectionId) => this.queries.get(connectionId);
  readonly list: ConnectionQueries['list'] = (...args) => this.queries.list(...args);
  readonly findStalled: ConnectionQueries['findStalled'] = (...args) =>
    this.queries.findStalled(...args);
  readonly oldestWaiting: ConnectionQueries['oldestWaiting'] = (states) =>
    this.queries.oldestWaiting(states);
  readonly needingAttention: ConnectionQueries['needingAttention'] = (...args) =>
    this.queries.needingAttention(...args);

  // Activations, decisions, operators' actions.
  readonly recordActivation: ActivationStore['recordActivation'] = (...args) =>
    this.activations.recordActivation(...args);
  readonly transition: ActivationStore['transition'] = (...args) =>
    this.activations.transition(...args);
  readonly recordDecision: ActivationStore['recordDecision'] = (...args) =>
    this.activations.recordDecision(...args);
  readonly markAcceptanceAnnounced: ActivationStore['markAcceptanceAnnounced'] = (connectionId) =>
    this.activations.markAcceptanceAnnounced(connectionId);
  readonly recordReviewRequest: ActivationStore['recordReviewRequest'] = (...args) =>
    this.activations.recordReviewRequest(...args);
  readonly recordOperatorAction: ActivationStore['recordOperatorAction'] = (...args) =>
    this.activations.recordOperatorAction(...args);

  // The lease of every outside call: the callback, the provisioning, each deprovision step.
  readonly acquireCallLease: CallLeaseStore['acquireCallLease'] = (...args) =>
    this.leases.acquireCallLease(...args);
  readonly releaseCallLease: CallLeaseStore['releaseCallLease'] = (...args) =>
    this.leases.releaseCallLease(...args);

  // The Fortellis callback.
  readonly completeCallback: CallbackStore['completeCallback'] = (...args) =>
    this.callbacks.completeCallback(...args);
  readonly reopenCallback: CallbackStore['reopenCallback'] = (...args) =>
    this.callbacks.reopenCallback(...args);
  readonly requestSuspension: CallbackStore['requestSuspension'] = (...args) =>
    this.callbacks.requestSuspension(...args);

  // The buyer's backend account.
  readonly completeProvisioning: ProvisioningStore['completeProvisioning'] = (...args) =>
    this.provisioning.completeProvisioning(...args);
  readonly failProvisioning: ProvisioningStore['failProvisioning'] = (...args) =>
    this.provisioning.failProvisioning(...args);
  readonly reopenProvisioning: ProvisioningStore['reopenProvisioning'] = (...args) =>
    this.provisioning.reopenProvisioning(...args);

  // Deactivations and their steps.
  readonly recordDeactivation: DeprovisionStore['recordDeactivation'] = (...args) =>
    this.deprovisions.recordDeactivation(...args);
  readonly completeStep: DeprovisionStore['completeStep'] = (...args) =>
    this.deprovisions.completeStep(...args);
  readonly completeStepThenLease: DeprovisionStore['completeStepThenLease'] = (...args) =>
    this.deprovisions.completeStepThenLease(...args);
  readonly reopenFailedSteps: DeprovisionStore['reopenFailedSteps'] = (...args) =>
    this.deprovisions.reopenFailedSteps(...args);
}

/** The error of a job naming a connection the store does not hold: it fails for good. */
export function unknownConnection(connectionId: string): AppError {
  return new AppError(ERROR_CODES.notFound, `connection ${connectionId} is unknown`, {
    permanent: true,
  });
}

/** The answer to an operator's request naming a connection the store does not hold: 404. */
export function noSuchConnection(connectionId: string): AppError {
  return new AppError(ERROR_CODES.notFound, `no connection ${connectionId}`, { httpStatus: 404 });
}

/**
 * The connection, read from `store`, or the `missing` error (by default {@link unknownConnection},
 * a job's; {@link noSuchConnection} for an operator's request): the one "get or throw".
 */
export async function getOrThrow(
  store: Pick<ConnectionRepository, 'get'>,
  connectionId: string,
  missing: (connectionId: string) => AppError = unknownConnection,
): Promise<ConnectionDocument> {
  const connection = await store.get(connectionId);
  if (connection === null) throw missing(connectionId);
  return connection;
}
