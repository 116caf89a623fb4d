// Queue names, job names and the job-id rule that makes publishing idempotent.
import type {
  ActivationReceivedJob,
  ConnectionAcceptedJob,
  DeactivationReceivedJob,
  RetryRequestedJob,
  ReviewDecidedJob,
  StalledConnectionFoundJob,
  SuspensionRequestedJob,
} from './types.ts';

/**
 * The BullMQ queues of the system, named after the worker that consumes them.
 * Every service prefixes its Redis keys with the configured `QUEUE_PREFIX`
 * (default {@link DEFAULT_QUEUE_PREFIX}), so several deployments can share one Redis.
 */
export const QUEUE_NAMES = Object.freeze({
  /** Consumed by the approval worker: activations, operators' review decisions and suspensions. */
  approval: 'approval',
  /** Consumed by the deprovision worker: deactivations and activation reports. */
  deprovision: 'deprovision',
} as const);

export type QueueName = (typeof QUEUE_NAMES)[keyof typeof QUEUE_NAMES];

/** Default BullMQ key prefix. */
export const DEFAULT_QUEUE_PREFIX = 'fortellis-admin';

/**
 * The prefix every Redis key of the system starts with, for a QUEUE_PREFIX. On a Redis Cluster it
 * is the hash tag `{QUEUE_PREFIX}`: Redis then hashes only what is inside the braces, so every key
 * (the queues', the publish fences, the call ledger, the locks) lands in one slot, as BullMQ's
 * scripts and our transactions, which touch several keys at once, require. Every service must
 * compute it the same way, hence here.
 */
export function queueKeyPrefix(queuePrefix: string, onCluster: boolean): string {
  if (!onCluster || /^\{[^{}]+\}$/.test(queuePrefix)) return queuePrefix;
  return `{${queuePrefix}}`;
}

/** The job names: each is an event that happened, in the past tense. */
export const JOB_NAMES = Object.freeze({
  activationReceived: 'ActivationReceived',
  deactivationReceived: 'DeactivationReceived',
  reviewDecided: 'ReviewDecided',
  suspensionRequested: 'SuspensionRequested',
  connectionAccepted: 'ConnectionAccepted',
  callbackRetryRequested: 'CallbackRetryRequested',
  deprovisionRetryRequested: 'DeprovisionRetryRequested',
} as const);

export type JobName = (typeof JOB_NAMES)[keyof typeof JOB_NAMES];

/**
 * The reconciler's jobs. Each worker publishes them on its own queue and consumes them itself:
 * `ReconciliationDue` comes from a BullMQ job scheduler (one per queue, whichever worker runs it);
 * it looks for connections that need that worker's work but have no live job, and publishes a
 * `StalledConnectionFound` for each, which moves the connection on as its lost job would have.
 */
export const RECONCILER_JOB_NAMES = Object.freeze({
  reconciliationDue: 'ReconciliationDue',
  stalledConnectionFound: 'StalledConnectionFound',
} as const);

/** The payload type of each job name. */
export interface JobPayloads {
  ActivationReceived: ActivationReceivedJob;
  DeactivationReceived: DeactivationReceivedJob;
  ReviewDecided: ReviewDecidedJob;
  SuspensionRequested: SuspensionRequestedJob;
  ConnectionAccepted: ConnectionAcceptedJob;
  CallbackRetryRequested: RetryRequestedJob;
  DeprovisionRetryRequested: RetryRequestedJob;
}

/** Which queue carries each job name. */
export const QUEUE_OF_JOB: Readonly<Record<JobName, QueueName>> = Object.freeze({
  ActivationReceived: QUEUE_NAMES.approval,
  ReviewDecided: QUEUE_NAMES.approval,
  SuspensionRequested: QUEUE_NAMES.approval,
  DeactivationReceived: QUEUE_NAMES.deprovision,
  ConnectionAccepted: QUEUE_NAMES.deprovision,
  CallbackRetryRequested: QUEUE_NAMES.approval,
  DeprovisionRetryRequested: QUEUE_NAMES.deprovision,
});

/**
 * The job-id rule. A job's id is derived from what it is about, never random, so publishing the
 * same fact twice (Fortellis repeating a call, an operator clicking twice, a worker retrying a
 * publish after a crash) adds no second job while the first is still in the queue: BullMQ ignores
 * an add whose id exists. Once a job is removed, a repeat is a new job, which the workers handle
 * idempotently through the connection's state in MongoDB.
 *
 * - `ActivationReceived`: `activation-{connectionId}` (a connectionId names one activation)
 * - `DeactivationReceived`: `deactivation-{connectionId}`
 * - `ReviewDecided`: `review-{connectionId}` (a held connection is decided once)
 * - `SuspensionRequested`: `suspension-{connectionId}` (an accepted connection is suspended once)
 * - `ConnectionAccepted`: `accepted-{connectionId}`
 * - `StalledConnectionFound`: `stalled-{connectionId}-{version}`
 * - `CallbackRetryRequested` / `DeprovisionRetryRequested`: `retry-{callback|deprovision}-{connectionId}-{requestedAt ms}`
 *   (each operator request is a new fact; a double submit within the same millisecond is one)
 *
 * Ids use `-` as separator because BullMQ reserves `:` for its keys.
 */
export const jobIdFor = Object.freeze({
  activationReceived: (job: Pick<ActivationReceivedJob, 'activation'>) =>
    `activation-${job.activation.connectionId.toLowerCase()}`,
  deactivationReceived: (job: Pick<DeactivationReceivedJob, 'connectionId'>) =>
    `deactivation-${job.connectionId.toLowerCase()}`,
  reviewDecided: (job: Pick<ReviewDecidedJob, 'connectionId'>) =>
    `review-${job.connectionId.toLowerCase()}`,
  suspensionRequested: (job: Pick<SuspensionRequestedJob, 'connectionId'>) =>
    `suspension-${job.connectionId.toLowerCase()}`,
  connectionAccepted: (job: Pick<ConnectionAcceptedJob, 'connectionId'>) =>
    `accepted-${job.connectionId.toLowerCase()}`,
  /** One per connection and version: a connection that has not changed is not published twice. */
  stalledConnectionFound: (job: Pick<StalledConnectionFoundJob, 'connectionId' | 'version'>) =>
    `stalled-${job.connectionId.toLowerCase()}-${job.version}`,
  retryRequested: (
    target: 'callback' | 'deprovision',
    job: Pick<RetryRequestedJob, 'connectionId' | 'requestedAt'>,
  ) => `retry-${target}-${job.connectionId.toLowerCase()}-${Date.parse(job.requestedAt)}`,
});

/**
 * Options every job is published with. Retries are decided by the consuming worker (its own backoff
 * and horizon, see the workers' configuration), so `attempts` is only an upper bound; finished jobs
 * are kept a week so that a repeated publish within that time is recognised by its id. How long
 * failed jobs are kept is the consuming worker's setting (FAILED_JOBS_KEEP_DAYS and _COUNT); what
 * an operator needs of them stays on the connection document.
 */
export const JOB_OPTIONS = Object.freeze({
  attempts: 1000,
  backoff: { type: 'custom' },
  removeOnComplete: { age: 7 * 24 * 3600, count: 100_000 },
} as const);
