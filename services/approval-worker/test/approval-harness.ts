// Builds a real approval worker (real repository, token and callback clients, BullMQ worker)
// against real Redis, the MongoDB-wire server and the simulator, for component tests.
import { Queue, type Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import {
  JOB_NAMES,
  JOB_OPTIONS,
  jobIdFor,
  QUEUE_NAMES,
  type ActivateRequest,
  type ReviewDecidedJob,
  type SuspensionRequestedJob,
} from '@fortellis-admin/contracts';
import {
  scheduleReconciliation,
  type ClientCredentialsTokenClient,
} from '@fortellis-admin/service-kit';
import {
  type ConnectionRepository,
  type ConnectionDocument,
} from '@fortellis-admin/connection-store';
import type { Simulator } from '@fortellis-admin/simulator';
import { capturingLogger, publishActivation } from '@fortellis-admin/test-support';
import { loadApprovalWorkerConfig } from '../src/config.ts';
import { defaultPolicy, type ApprovalPolicy } from '@fortellis-admin/approval-rules';
import type { ApprovalJobResult } from '../src/entry-points/approval-processor.ts';
import { wireApprovalWorker } from '../src/wiring.ts';
import { buildWorker } from '../src/worker.ts';

export interface ApprovalHarness {
  repo: ConnectionRepository;
  tokens: ClientCredentialsTokenClient;
  approvalQueue: Queue;
  deprovisionQueue: Queue;
  logs: string[];
  workers: Array<Worker<unknown, ApprovalJobResult>>;
  /** Starts one more worker on the same queue. */
  addWorker(): Worker<unknown, ApprovalJobResult>;
  activate(activation: ActivateRequest, jobId?: string): Promise<void>;
  decideReview(job: Omit<ReviewDecidedJob, 'decidedAt' | 'requestId'>): Promise<void>;
  /** Suspends an accepted connection as the operations service does: records it, then publishes. */
  suspend(connectionId: string, reason: string, actor: string): Promise<void>;
  /** Waits until the connection is in `state` and returns it. */
  waitForState(
    connectionId: string,
    state: ConnectionDocument['state'],
    timeoutMs?: number,
  ): Promise<ConnectionDocument>;
  close(): Promise<void>;
}

export async function startApprovalHarness(options: {
  sim: Simulator;
  redisUrl: string;
  mongoUrl: string;
  prefix: string;
  dbName: string;
  policy?: ApprovalPolicy;
  env?: Record<string, string>;
  /** Installs the reconciler's job scheduler, as the worker's composition root does. */
  reconcile?: boolean;
}): Promise<ApprovalHarness> {
  const config = loadApprovalWorkerConfig({
    ...options.sim.env(),
    REDIS_URL: options.redisUrl,
    MONGODB_URL: options.mongoUrl,
    MONGODB_DATABASE: options.dbName,
    QUEUE_PREFIX: options.prefix,
    CALLBACK_BACKOFF_BASE_MS: '50',
    CALLBACK_BACKOFF_MAX_MS: '400',
    CALLBACK_TIMEOUT_MS: '2000',
    BACKEND_PROVISION_TIMEOUT_MS: '2000',
    CALLBACK_RATE_LIMIT_PER_SECOND: '1000',
    ...options.env,
  });
  const { logger, lines: logs } = capturingLogger('approval-worker');
  const mongo = new MongoClient(options.mongoUrl);
  await mongo.connect();
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  const approvalQueue = new Queue(QUEUE_NAMES.approval, {
    connection: { url: options.redisUrl },
    prefix: options.prefix,
  });
  const deprovisionQueue = new Queue(QUEUE_NAMES.deprovision, {
    connection: { url: options.redisUrl },
    prefix: options.prefix,
  });
  const deps = wireApprovalWorker(config, {
    redis,
    db: mongo.db(options.dbName),
    logger,
    policy: options.policy ?? defaultPolicy('approve'),
    deprovisionQueue,
    approvalQueue,
  });
  const { repo } = deps;
  await repo.ensureIndexes();
  if (options.reconcile === true)
    await scheduleReconciliation(approvalQueue, config.reconcile.everyMs);
  const tokens = deps.tokens;
  const workers: Array<Worker<unknown, ApprovalJobResult>> = [];
  const addWorker = () => {
    const worker = buildWorker(deps);
    workers.push(worker);
    return worker;
  };
  addWorker();
  return {
    repo,
    tokens,
    approvalQueue,
    deprovisionQueue,
    logs,
    workers,
    addWorker,
    activate: async (activation, jobId) => {
      await publishActivation(approvalQueue, activation, {
        sub: config.fortellis.clientId,
        ...(jobId === undefined ? {} : { jobId }),
      });
    },
    decideReview: async (decision) => {
      const data: ReviewDecidedJob = {
        ...decision,
        decidedAt: new Date().toISOString(),
        requestId: `review-${decision.connectionId.slice(0, 8)}`,
      };
      await approvalQueue.add(JOB_NAMES.reviewDecided, data, {
        ...JOB_OPTIONS,
        jobId: jobIdFor.reviewDecided(data),
      });
    },
    suspend: async (connectionId, reason, actor) => {
      const at = new Date();
      const recorded = await repo.requestSuspension(connectionId, { reason, by: actor, at });
      if (recorded?.kind !== 'recorded') throw new Error(`not suspended: ${recorded?.kind}`);
      const data: SuspensionRequestedJob = {
        connectionId,
        reason,
        actor,
        requestedAt: at.toISOString(),
        requestId: `suspension-${connectionId.slice(0, 8)}`,
      };
      await approvalQueue.add(JOB_NAMES.suspensionRequested, data, {
        ...JOB_OPTIONS,
        jobId: jobIdFor.suspensionRequested(data),
      });
    },
    waitForState: async (connectionId, state, timeoutMs = 15_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = await repo.get(connectionId);
        if (found?.state === state) return found;
        if (Date.now() > deadline)
          throw new Error(
            `connection ${connectionId} is ${found?.state ?? 'absent'}, not ${state}, after ${timeoutMs} ms`,
          );
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    close: async () => {
      await Promise.all(workers.map((worker) => worker.close()));
      await approvalQueue.close();
      await deprovisionQueue.close();
      redis.disconnect();
      await mongo.close();
    },
  };
}
