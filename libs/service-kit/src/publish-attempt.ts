// One attempt to store a batch of jobs: a fenced transaction sent in one pipeline (WATCH, the
// fence, MULTI, the adds, EXEC, and WAIT when replicas must confirm), and what its replies say.
import { randomUUID } from 'node:crypto';
import { Job, type Queue } from 'bullmq';
import { JOB_OPTIONS } from '@fortellis-admin/contracts';
import type { PendingPublish, StoredAttempt } from './publish-settlement.ts';
import type { ReplicaConfirmer } from './replica-confirmer.ts';

/** The error of a command ioredis never wrote: it cannot have run. */
const NOT_SENT = 'enableOfflineQueue options is false';

/**
 * Errors a job's script meets when the server may not write now: a primary turned replica
 * (READONLY), or one with fewer good replicas than its `min-replicas-to-write` (NOREPLICAS). Nothing
 * was stored; sending again (once reconnected, or once the replicas are back) may succeed.
 */
const NOT_WRITABLE_NOW = /\b(READONLY|NOREPLICAS)\b/;

export type Attempt =
  | StoredAttempt
  | { kind: 'fenced' }
  /** `mayHaveRun`: false only when Redis cannot have run it (never written, or refused). */
  | { kind: 'error'; error: unknown; mayHaveRun: boolean };

/** A pipeline, as the publish builds it (ioredis's types do not know the fence command). */
interface PublishPipeline {
  watch(key: string): unknown;
  ackFence(key: string, deadlineMs: number): unknown;
  multi(): unknown;
  wait(replicas: number, timeoutMs: number): unknown;
  exec(): Promise<[Error | null, unknown][] | null>;
}

/** Where an attempt goes: the publisher's key prefix, and its confirmer when replicas confirm. */
export interface AttemptTarget {
  prefix: string;
  confirmer: ReplicaConfirmer | undefined;
}

/**
 * One fenced transaction, in one pipeline: WATCH the fence key, run the fence, then MULTI, the
 * adds, EXEC and, when waiting for replicas and no other WAIT is out, WAIT.
 */
export async function sendAttempt(
  target: AttemptTarget,
  queue: Queue,
  batch: readonly PendingPublish[],
  deadlineMs: number,
  holdLeftMs: number,
): Promise<Attempt> {
  const confirmer = target.confirmer;
  const waitMs =
    confirmer?.claimWait() === true
      ? Math.max(1, Math.min(confirmer.sliceMs, Math.floor(holdLeftMs)))
      : undefined;
  let acked: number | undefined;
  try {
    // BullMQ's view of our connection, with its scripts defined on it (at once after the first).
    const client = await queue.backend.client;
    const fenceKey = `${target.prefix}:ack-fence:${randomUUID()}`;
    // A pipeline goes out in one write, in this order, on one connection (on a Cluster, that of
    // the node holding the prefix's slot): nothing can come between the WATCH and the EXEC, and
    // a Cluster client that sends it again after a redirection sends all of it again. WAIT after
    // EXEC counts the replicas holding every write of this connection so far.
    const transaction = client.pipeline();
    const pipeline = transaction as unknown as PublishPipeline;
    pipeline.watch(fenceKey);
    pipeline.ackFence(fenceKey, deadlineMs);
    pipeline.multi();
    const adds = batch.map((item) =>
      new Job(
        queue,
        item.name,
        item.data,
        { ...JOB_OPTIONS, jobId: item.jobId },
        item.jobId,
      ).addJob(transaction),
    );
    // Inside MULTI, exec() only queues EXEC; the second exec() sends the pipeline.
    void pipeline.exec();
    if (waitMs !== undefined && confirmer !== undefined) pipeline.wait(confirmer.replicas, waitMs);
    const [replies] = await Promise.all([pipeline.exec(), ...adds]);
    const attempt = readAttempt(replies ?? [], batch.length, waitMs !== undefined);
    if (attempt.kind === 'stored') acked = attempt.acked;
    return attempt;
  } catch (error) {
    return { kind: 'error', error, mayHaveRun: mayHaveRun(error) };
  } finally {
    if (waitMs !== undefined) confirmer?.releaseWait(acked);
  }
}

/** What the replies of [WATCH, fence, MULTI, ...adds, EXEC, WAIT?] say happened. */
function readAttempt(
  replies: readonly [Error | null, unknown][],
  jobs: number,
  waited: boolean,
): Attempt {
  const [execError, executed] = replies[3 + jobs] ?? [new Error('no answer to EXEC'), undefined];
  if (execError !== null)
    return { kind: 'error', error: execError, mayHaveRun: mayHaveRun(execError) };
  if (executed === null) return { kind: 'fenced' };
  const failures = new Map<number, Error>();
  let notWritable: Error | undefined;
  (executed as unknown[]).forEach((result, index) => {
    if (!(result instanceof Error)) return;
    failures.set(index, result);
    if (NOT_WRITABLE_NOW.test(result.message)) notWritable = result;
  });
  // The server may not write now (demoted, or too few replicas): worth sending again in the hold
  // window rather than refusing at once. Any job that was stored makes the outcome not clean.
  if (notWritable !== undefined)
    return { kind: 'error', error: notWritable, mayHaveRun: failures.size < jobs };
  const [waitError, acked] = waited ? (replies[4 + jobs] ?? [new Error('no answer'), 0]) : [null];
  return {
    kind: 'stored',
    failures,
    acked: !waited ? undefined : waitError === null ? Number(acked) : 0,
  };
}

/** Whether a command that failed with `error` may have run: not when never written, or refused. */
function mayHaveRun(error: unknown): boolean {
  if (!(error instanceof Error)) return true;
  return !(error.message.includes(NOT_SENT) || error.name === 'ReplyError');
}
