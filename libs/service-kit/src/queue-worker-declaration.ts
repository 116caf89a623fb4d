// A queue worker declared as data: its queue, and per job name the contract that checks the job's
// data and the use case that handles it. One processor runs every declaration, so the workers'
// entry points are tables, not copies of a switch.
import { UnrecoverableError, type Job, type Processor, type Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { QueueName } from '@fortellis-admin/contracts';
import {
  createQueueWorker,
  jobContextOf,
  parseJobData,
  type JobContext,
  type QueueWorkerOptions,
} from './queue-worker.ts';

/** One job a queue handles: its contract, and the use case that gets its data once checked. */
export interface DeclaredJob<D, T, R> {
  /** The job's contract (`contracts.x.parse`): returns the data typed, throws on bad data. */
  parse: (data: unknown) => T;
  handle: (deps: D, data: T, job: JobContext, log: Logger) => Promise<R>;
}

/** A job that carries no data (the reconciler's run): its use case gets the deps and a logger. */
export type DeclaredJobWithoutData<D, R> = (deps: D, log: Logger) => Promise<R>;

/** What names a job's connection and request in its logger, read before the data is checked. */
export interface JobLogFields {
  connectionId: unknown;
  requestId: unknown;
}

/** How a queue worker is declared: see {@link declareQueueWorker}. */
export interface QueueWorkerDeclarationInput<D, R, J extends Record<string, unknown>> {
  queue: QueueName;
  /** Per job name, its contract and use case. */
  jobs: { [K in keyof J]: DeclaredJob<D, J[K], R> };
  /** Per job name, the use case of a job without data (no contract, no job context). */
  jobsWithoutData: Readonly<Record<string, DeclaredJobWithoutData<NoInfer<D>, NoInfer<R>>>>;
  /** Reads the connection and request ids of a job's data, still unchecked, for its logger. */
  logFieldsOf: (data: unknown) => JobLogFields;
}

/** A declared queue worker: what {@link declaredProcessor} and {@link createDeclaredWorker} run. */
export interface QueueWorkerDeclaration<D, R> {
  readonly queue: QueueName;
  readonly jobs: ReadonlyMap<string, DeclaredJob<D, unknown, R>>;
  readonly jobsWithoutData: ReadonlyMap<string, DeclaredJobWithoutData<D, R>>;
  readonly logFieldsOf: (data: unknown) => JobLogFields;
}

/**
 * Declares a queue worker: its queue, and per job name the contract and the use case. Each use case
 * takes the deps first (`handle(deps, data, job, log)`), so a declaration is a module-level value
 * and the deps come in when the worker is built. The deps and result types are read from the
 * constant's annotation (`const JOBS: QueueWorkerDeclaration<Deps, Result> = declareQueueWorker(…)`);
 * each job's contract and use case are checked to agree. The job names are looked up as own keys
 * only: a job named `toString` is not handled.
 */
export function declareQueueWorker<D, R, J extends Record<string, unknown>>(
  input: QueueWorkerDeclarationInput<D, R, J>,
): QueueWorkerDeclaration<D, R> {
  return Object.freeze({
    queue: input.queue,
    // The input type checked that each contract and use case agree; the map forgets their types.
    jobs: new Map(Object.entries(input.jobs) as Array<[string, DeclaredJob<D, unknown, R>]>),
    jobsWithoutData: new Map(Object.entries(input.jobsWithoutData)),
    logFieldsOf: input.logFieldsOf,
  });
}

/**
 * The BullMQ processor of a declaration: a job without data goes to its use case with a logger that
 * names the job; any other gets a logger that also names its connection and request, its data
 * checked against its contract (bad data fails the job for good), and its use case. A job name the
 * queue does not handle fails for good.
 */
export function declaredProcessor<D extends { logger: Logger }, R>(
  declaration: QueueWorkerDeclaration<D, R>,
  deps: D,
): Processor<unknown, R> {
  return async function processDeclaredJob(job: Job): Promise<R> {
    const withoutData = declaration.jobsWithoutData.get(job.name);
    if (withoutData !== undefined)
      return withoutData(deps, deps.logger.child({ jobId: job.id, job: job.name }));
    const { connectionId, requestId } = declaration.logFieldsOf(job.data);
    const log = deps.logger.child({ jobId: job.id, job: job.name, connectionId, requestId });
    const context = jobContextOf(job);
    const declared = declaration.jobs.get(job.name);
    if (declared === undefined)
      throw new UnrecoverableError(
        `the ${declaration.queue} queue does not handle ${job.name} jobs`,
      );
    return declared.handle(deps, parseJobData(declared.parse, job.data), context, log);
  };
}

/** Builds the BullMQ worker of a declaration, on the declared queue, with {@link createQueueWorker}. */
export function createDeclaredWorker<D extends { logger: Logger }, R>(
  declaration: QueueWorkerDeclaration<D, R>,
  deps: D,
  options: Omit<QueueWorkerOptions<R>, 'queue' | 'processor'>,
): Worker<unknown, R> {
  return createQueueWorker({
    ...options,
    queue: declaration.queue,
    processor: declaredProcessor(declaration, deps),
  });
}
