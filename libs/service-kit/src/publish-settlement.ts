// How the callers of a batch of publishes learn its end: each is acknowledged once its job is
// stored (and held by enough replicas), or refused with QUEUE_UNAVAILABLE (503).
import {
  AppError,
  ERROR_CODES,
  type JobName,
  type JobPayloads,
  type QueueName,
} from '@fortellis-admin/contracts';
import type { Logger } from './logger.ts';
import type { ReplicaConfirmer } from './replica-confirmer.ts';

export interface PublishResult {
  jobId: string;
  queue: QueueName;
}

/** One call of `publish`, waiting for its batch to end. */
export interface PendingPublish {
  name: JobName;
  data: JobPayloads[JobName];
  jobId: string;
  resolve: (result: PublishResult) => void;
  reject: (error: unknown) => void;
  /** performance.now() and the wall clock when the call came in. */
  startedAt: number;
  startedWallMs: number;
}

/** What an attempt that stored the batch answered. */
export type StoredAttempt = {
  kind: 'stored';
  failures: ReadonlyMap<number, Error>;
  /** Replicas that acknowledged it (WAIT at the end of the pipeline); undefined without WAIT. */
  acked: number | undefined;
};

export interface PublishSettlerOptions {
  /** Present when acknowledgements wait for replicas. */
  confirmer: ReplicaConfirmer | undefined;
  /** Told how long each stored publish took, in seconds. */
  onPublished: ((seconds: number) => void) | undefined;
  logger: Logger | undefined;
}

/** Acknowledges and refuses the calls of a batch, and says what operators must know. */
export class PublishSettler {
  readonly #confirmer: ReplicaConfirmer | undefined;
  readonly #onPublished: ((seconds: number) => void) | undefined;
  readonly #logger: Logger | undefined;

  constructor(options: PublishSettlerOptions) {
    this.#confirmer = options.confirmer;
    this.#onPublished = options.onPublished;
    this.#logger = options.logger;
  }

  /**
   * Settles a stored attempt's jobs: those whose script failed are refused; the others are
   * acknowledged when enough replicas hold them, else returned (stored, not yet confirmed).
   */
  settleStored(
    queueName: QueueName,
    batch: readonly PendingPublish[],
    outcome: StoredAttempt,
  ): PendingPublish[] {
    const confirmer = this.#confirmer;
    if (confirmer === undefined || (outcome.acked ?? -1) >= confirmer.replicas) {
      this.settle(queueName, batch, outcome.failures);
      return [];
    }
    const stored: PendingPublish[] = [];
    batch.forEach((item, index) => {
      const failure = outcome.failures.get(index);
      if (failure === undefined) stored.push(item);
      else item.reject(unavailable(failure));
    });
    return stored;
  }

  /** Acknowledges the jobs Redis holds (`stored`, by id) and refuses the others. */
  settleKnown(queueName: QueueName, batch: readonly PendingPublish[], stored: Set<string>): void {
    const failures = new Map<number, Error>();
    batch.forEach((item, index) => {
      if (!stored.has(item.jobId)) failures.set(index, new Error('not stored in the hold window'));
    });
    this.settle(queueName, batch, failures);
  }

  /** Refuses the jobs with a failure (by index in the batch) and acknowledges the others. */
  settle(
    queueName: QueueName,
    batch: readonly PendingPublish[],
    failures: ReadonlyMap<number, Error>,
  ): void {
    const now = performance.now();
    batch.forEach((item, index) => {
      const failure = failures.get(index);
      if (failure !== undefined) {
        item.reject(unavailable(failure));
        return;
      }
      this.#onPublished?.((now - item.startedAt) / 1000);
      item.resolve({ jobId: item.jobId, queue: queueName });
    });
  }

  /**
   * Jobs the current primary does not hold once the fence has passed: nothing can store them any
   * more. If they had been stored (on a primary since lost), a worker may have taken them from it.
   */
  refuseLost(batch: readonly PendingPublish[], wereStored: boolean): void {
    if (wereStored)
      this.#logger?.error(
        { jobIds: batch.map((item) => item.jobId) },
        'publish refused: the jobs were stored on a primary that was lost before its replicas ' +
          'had them; a worker that took them from it may have acted on them',
      );
    this.refuse(batch, 'not stored on the current primary');
  }

  /**
   * Redis stayed away past every bound while an attempt's outcome was unknown. The caller is
   * refused, but the jobs may be stored: said loudly, for operators to reconcile.
   */
  refuseUnknown(
    queueName: QueueName,
    batch: readonly PendingPublish[],
    why = 'Redis did not come back',
  ): void {
    this.#logger?.error(
      { queue: queueName, jobIds: batch.map((item) => item.jobId) },
      `publish outcome unknown: ${why}; the jobs may be stored`,
    );
    this.refuse(batch, why);
  }

  /** Refuses every job of the batch: none of them was stored, none ever will be. */
  refuse(batch: readonly PendingPublish[], reason: string): void {
    this.#logger?.warn({ jobs: batch.length, reason }, 'publish refused: nothing was stored');
    const failure = unavailable(new Error(reason));
    for (const item of batch) item.reject(failure);
  }
}

function unavailable(cause: unknown): AppError {
  return new AppError(
    ERROR_CODES.queueUnavailable,
    'the request could not be stored, try again later',
    {
      httpStatus: 503,
      cause,
    },
  );
}
