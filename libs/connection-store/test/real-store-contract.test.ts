// The connection store's contract run against the MongoDB repository on the real MongoDB-wire
// server: what the in-memory store of the unit tests must agree with.
import { describeConnectionStoreContract } from './store-contract.ts';
import { openRealStore } from './real-store.ts';

describeConnectionStoreContract('MongoDB repository', async () => {
  const real = await openRealStore('contract');
  return { store: real.repo, close: () => real.close() };
});
