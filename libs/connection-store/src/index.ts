// The public surface of @fortellis-admin/connection-store: the connection's state machine (pure),
// the lease that gives one worker the right to call an outside party, and the repository.
export * from './connection-states.ts';
export * from './connection-repository.ts';
export * from './connection-lock.ts';
