// The connections collection as the services see it: one object over the stores split by concern
// (queries, activations and decisions, the callback, deactivations and their steps). Every change
// is one single-document update made while holding the connection's lock, so two workers or a
// redelivered job can never both act. Works on MongoDB and on FerretDB: no transactions, no
// change streams.
import type { Db } from 'mongodb';
import { ActivationStore } from './activation-store.ts';
import { CallbackStore } from './callback-store.ts';
import { ConnectionCollection } from './connection-collection.ts';
import type { ConnectionLocks } from './connection-lock.ts';
import { ConnectionQueries } from './connection-queries.ts';
import { DeprovisionStore } from './deprovision-store.ts';

export class ConnectionRepository {
  readonly queries: ConnectionQueries;
  readonly activations: ActivationStore;
  readonly callbacks: CallbackStore;
  readonly deprovisions: DeprovisionStore;

  constructor(db: Db, locks: ConnectionLocks, now: () => Date = () => new Date()) {
    const connections = new ConnectionCollection(db, locks, now);
    this.queries = new ConnectionQueries(connections);
    this.activations = new ActivationStore(connections);
    this.callbacks = new CallbackStore(connections, this.activations);
    this.deprovisions = new DeprovisionStore(connections);
  }

  // Reads.
  readonly ensureIndexes: ConnectionQueries['ensureIndexes'] = () => this.queries.ensureIndexes();
  readonly get: ConnectionQueries['get'] = (connectionId) => this.queries.get(connectionId);
  readonly list: ConnectionQueries['list'] = (...args) => this.queries.list(...args);

  // Activations, decisions, operators' actions.
  readonly recordActivation: ActivationStore['recordActivation'] = (record) =>
    this.activations.recordActivation(record);
  readonly transition: ActivationStore['transition'] = (...args) =>
    this.activations.transition(...args);
  readonly decide: ActivationStore['decide'] = (...args) => this.activations.decide(...args);
  readonly markAcceptanceAnnounced: ActivationStore['markAcceptanceAnnounced'] = (connectionId) =>
    this.activations.markAcceptanceAnnounced(connectionId);
  readonly recordReviewRequest: ActivationStore['recordReviewRequest'] = (...args) =>
    this.activations.recordReviewRequest(...args);
  readonly recordOperatorAction: ActivationStore['recordOperatorAction'] = (...args) =>
    this.activations.recordOperatorAction(...args);

  // The Fortellis callback.
  readonly acquireCallbackLease: CallbackStore['acquireCallbackLease'] = (...args) =>
    this.callbacks.acquireCallbackLease(...args);
  readonly releaseCallbackLease: CallbackStore['releaseCallbackLease'] = (...args) =>
    this.callbacks.releaseCallbackLease(...args);
  readonly completeCallback: CallbackStore['completeCallback'] = (...args) =>
    this.callbacks.completeCallback(...args);
  readonly reopenCallback: CallbackStore['reopenCallback'] = (...args) =>
    this.callbacks.reopenCallback(...args);

  // Deactivations and their steps.
  readonly recordDeactivation: DeprovisionStore['recordDeactivation'] = (...args) =>
    this.deprovisions.recordDeactivation(...args);
  readonly acquireStepLease: DeprovisionStore['acquireStepLease'] = (...args) =>
    this.deprovisions.acquireStepLease(...args);
  readonly releaseStepLease: DeprovisionStore['releaseStepLease'] = (...args) =>
    this.deprovisions.releaseStepLease(...args);
  readonly completeStep: DeprovisionStore['completeStep'] = (...args) =>
    this.deprovisions.completeStep(...args);
  readonly reopenFailedSteps: DeprovisionStore['reopenFailedSteps'] = (...args) =>
    this.deprovisions.reopenFailedSteps(...args);
}
