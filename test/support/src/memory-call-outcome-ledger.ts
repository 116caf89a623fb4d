// The call-outcome ledger in one process's memory, for unit tests of the use cases: the Redis
// ledger's rules (one entry per lease, set once; an abandoned attempt cannot record), no Redis.
// libs/service-kit/test/call-outcome-ledger.test.ts runs the same cases against both.
import type { CallOutcomeLedger } from '@fortellis-admin/service-kit/pure';

/** The entry of an attempt that was taken over before it recorded anything. */
const ABANDONED = 'abandoned';

/** The ledger in one process's memory: for unit tests, never for a deployment. */
export class MemoryCallOutcomeLedger implements CallOutcomeLedger {
  readonly entries = new Map<string, object | typeof ABANDONED>();

  async record(leaseId: string, outcome: object): Promise<boolean> {
    if (this.entries.has(leaseId)) return false;
    this.entries.set(leaseId, structuredClone(outcome));
    return true;
  }

  async outcomeOf<T extends object>(
    leaseId: string,
    options: { abandon: boolean },
  ): Promise<T | null> {
    const entry = this.entries.get(leaseId);
    if (entry === undefined && options.abandon) this.entries.set(leaseId, ABANDONED);
    return entry === undefined || entry === ABANDONED ? null : (structuredClone(entry) as T);
  }
}
