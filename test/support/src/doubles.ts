// The test doubles of the test support package (`@fortellis-admin/test-support/doubles`): in-memory
// stand-ins of the stores and queues the use cases take as ports, and the tutorial's payloads.
// Importing them loads no driver and reaches no server, so unit tests may; the package's index
// (infrastructure, processes, containers) is for integration tests.
export * from './memory-connection-store.ts';
export * from './memory-call-outcome-ledger.ts';
export * from './memory-reconciler-jobs.ts';
export * from './fixtures.ts';
