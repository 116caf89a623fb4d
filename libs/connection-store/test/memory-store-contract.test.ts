// The connection store's contract run against the in-memory store the workers' unit tests use
// (test support): pure, it belongs to the unit project.
import { MemoryConnectionStore } from '@fortellis-admin/test-support/doubles';
import { describeConnectionStoreContract } from './store-contract.ts';

describeConnectionStoreContract('in memory', async () => ({
  store: new MemoryConnectionStore(),
  close: async () => {},
}));
