// What a use case may know of the job that carries its work, without BullMQ's values: the job's
// id, name, first publication and attempt. Pure (BullMQ's Job is imported as a type only).
import type { Job } from 'bullmq';

/**
 * What a use case may know of the job that carries its work, without BullMQ's types: use cases
 * take this, and the entry point builds it with {@link jobContextOf}.
 */
export interface JobContext {
  id: string;
  name: string;
  /** When the job was first published: where a retry horizon is counted from. */
  publishedAt: Date;
  /** 1 on the first attempt, 2 on the first retry, and so on. */
  attempt: number;
}

export function jobContextOf(
  job: Pick<Job, 'id' | 'name' | 'timestamp' | 'attemptsMade'>,
): JobContext {
  return {
    id: job.id ?? '',
    name: job.name,
    publishedAt: new Date(job.timestamp),
    attempt: job.attemptsMade + 1,
  };
}
