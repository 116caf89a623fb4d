// The reconciler's view of a queue, in memory, for unit tests of the use cases: which jobs count as
// live is set by the test, and what the reconciler publishes is kept for it to look at.
import type { StalledConnectionFoundJob } from '@fortellis-admin/contracts';
import type { ReconcilerJobs } from '@fortellis-admin/service-kit/pure';

/** The reconciler's queue in memory: for unit tests, never for a deployment. */
export class MemoryReconcilerJobs implements ReconcilerJobs {
  /** The ids of the jobs that count as live. */
  readonly live = new Set<string>();
  readonly published: StalledConnectionFoundJob[] = [];

  async anyLive(jobIds: readonly string[]): Promise<boolean> {
    return jobIds.some((id) => this.live.has(id));
  }

  async publishStalled(job: StalledConnectionFoundJob): Promise<void> {
    this.published.push(job);
  }
}
