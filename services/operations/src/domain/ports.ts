// What the operators' use cases need from the world: the connections and a way to publish jobs.
import type { JobName, JobPayloads } from '@fortellis-admin/contracts';
import type { ConnectionRepository } from '@fortellis-admin/connection-store';

/** The connection repository, as far as the operations service reads and writes it. */
export type OperationsRepository = Pick<
  ConnectionRepository,
  'list' | 'get' | 'needingAttention' | 'recordReviewRequest' | 'requestSuspension'
>;

/** Publishes a job under its derived id; resolves once the queue has stored it. */
export interface JobPublishing {
  publish<N extends JobName>(name: N, data: JobPayloads[N], jobId: string): Promise<unknown>;
}
