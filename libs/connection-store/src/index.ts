// The public surface of @fortellis-admin/connection-store: the connection's state machine (pure),
// the lease that gives one worker the right to call an outside party, the per-connection lock and
// the repository, split by concern behind one object.
export * from './connection-states.ts';
export * from './connection-state-machine.ts';
export * from './outside-call-lease.ts';
export * from './call-slot.ts';
export * from './attempt-history.ts';
export * from './replica-wait.ts';
export * from './connection-lock.ts';
export * from './connection-collection.ts';
export * from './connection-queries.ts';
export * from './activation-store.ts';
// The fields an activation brings, for the in-memory store of test support to set them as the real one.
export { activationFields } from './activation-document.ts';
export * from './call-lease-store.ts';
export * from './callback-store.ts';
export * from './provisioning-store.ts';
export * from './deprovision-store.ts';
export * from './connection-repository.ts';
