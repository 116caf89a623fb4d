// A declared queue worker's processor alone: which use case a job reaches, with what data, logger
// and job context, and how a job the queue does not handle or bad data ends. No Redis.
import { UnrecoverableError, type Job } from 'bullmq';
import { pino, type Logger } from 'pino';
import { describe, expect, it } from 'vitest';
import { contracts, QUEUE_NAMES, type RetryRequestedJob } from '@fortellis-admin/contracts';
import {
  declaredProcessor,
  declareQueueWorker,
  type QueueWorkerDeclaration,
} from './queue-worker-declaration.ts';
import { parseJobData, type JobContext } from './queue-worker.ts';

interface Deps {
  logger: Logger;
}

type Handled =
  { handled: 'retry'; data: RetryRequestedJob; job: JobContext } | { handled: 'reconciliation' };

const RETRY: RetryRequestedJob = {
  connectionId: '3f2504e0-4f89-41d3-9a0c-0305e82c3301',
  actor: 'operator',
  requestedAt: '2026-01-02T03:04:05.000Z',
  requestId: 'req-retry-1',
};

const DECLARATION: QueueWorkerDeclaration<Deps, Handled> = declareQueueWorker({
  queue: QUEUE_NAMES.approval,
  jobs: {
    RetryRequested: {
      parse: contracts.retryRequestedJob.parse,
      handle: async (deps: Deps, data: RetryRequestedJob, job: JobContext, log: Logger) => {
        log.info('retry handled');
        return { handled: 'retry' as const, data, job };
      },
    },
  },
  jobsWithoutData: {
    ReconciliationDue: async (deps: Deps, log: Logger) => {
      log.info('reconciliation handled');
      return { handled: 'reconciliation' as const };
    },
  },
  logFieldsOf: (data) => {
    const fields = data as { connectionId?: unknown; requestId?: unknown };
    return { connectionId: fields.connectionId, requestId: fields.requestId };
  },
});

/** A processor over the declaration, with the log lines its jobs wrote. */
function processorWithLogs() {
  const lines: Array<Record<string, unknown>> = [];
  const logger = pino(
    { base: null, timestamp: false },
    { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) },
  );
  const process = declaredProcessor(DECLARATION, { logger });
  return { run: (job: Partial<Job>) => process(job as Job), lines };
}

function jobOf(name: string, data: unknown): Partial<Job> {
  return { id: 'job-1', name, data, timestamp: Date.parse(RETRY.requestedAt), attemptsMade: 2 };
}

describe('declaredProcessor', () => {
  it('hands a job its data as its contract parsed it, its job context, and a logger naming it', async () => {
    const { run, lines } = processorWithLogs();
    const result = await run(jobOf('RetryRequested', RETRY));
    expect(result).toEqual({
      handled: 'retry',
      data: RETRY,
      job: {
        id: 'job-1',
        name: 'RetryRequested',
        publishedAt: new Date(RETRY.requestedAt),
        attempt: 3,
      },
    });
    expect(lines).toEqual([
      expect.objectContaining({
        jobId: 'job-1',
        job: 'RetryRequested',
        connectionId: RETRY.connectionId,
        requestId: RETRY.requestId,
        msg: 'retry handled',
      }),
    ]);
  });

  it('runs a job without data with a logger that names the job only', async () => {
    const { run, lines } = processorWithLogs();
    expect(await run(jobOf('ReconciliationDue', undefined))).toEqual({
      handled: 'reconciliation',
    });
    expect(lines).toHaveLength(1);
    expect(Object.keys(lines[0] ?? {}).sort()).toEqual(['job', 'jobId', 'level', 'msg']);
  });

  it('fails a job the queue does not handle for good, naming the queue and the job', async () => {
    const { run } = processorWithLogs();
    for (const name of ['Unknown', 'toString', 'constructor']) {
      const failure = run(jobOf(name, RETRY));
      await expect(failure).rejects.toBeInstanceOf(UnrecoverableError);
      await expect(failure).rejects.toThrow(`the approval queue does not handle ${name} jobs`);
    }
  });

  it('fails a job whose data breaks its contract for good, with the error parseJobData gives', async () => {
    const { run } = processorWithLogs();
    const bad = { ...RETRY, actor: '' };
    let expected: unknown;
    try {
      parseJobData(contracts.retryRequestedJob.parse, bad);
    } catch (error) {
      expected = error;
    }
    expect(expected).toBeInstanceOf(UnrecoverableError);
    const failure = run(jobOf('RetryRequested', bad));
    await expect(failure).rejects.toBeInstanceOf(UnrecoverableError);
    await expect(failure).rejects.toThrow((expected as Error).message);
  });
});
