// Builds a real deprovision worker against real Redis, the MongoDB-wire server and the simulator.
import { scheduleReconciliation } from '@fortellis-admin/service-kit';
import { Queue, type Worker } from 'bullmq';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import {
  JOB_NAMES,
  JOB_OPTIONS,
  jobIdFor,
  QUEUE_NAMES,
  type ActivateRequest,
} from '@fortellis-admin/contracts';
import {
  type ConnectionRepository,
  type ConnectionDocument,
} from '@fortellis-admin/connection-store';
import type { Simulator } from '@fortellis-admin/simulator';
import { capturingLogger } from '@fortellis-admin/test-support';
import { loadDeprovisionWorkerConfig } from '../src/config.ts';
import type { DeprovisionJobResult } from '../src/entry-points/deprovision-processor.ts';
import { wireDeprovisionWorker } from '../src/wiring.ts';
import { buildWorker } from '../src/worker.ts';

export interface DeprovisionHarness {
  repo: ConnectionRepository;
  queue: Queue;
  logs: string[];
  worker: Worker<unknown, DeprovisionJobResult>;
  /** Stores a connection that Fortellis has accepted, as the approval worker would leave it. */
  seedAccepted(activation: ActivateRequest): Promise<void>;
  deactivate(connectionId: string, jobId?: string): Promise<void>;
  announceAccepted(activation: ActivateRequest): Promise<void>;
  waitForSteps(
    connectionId: string,
    steps: string[],
    timeoutMs?: number,
  ): Promise<ConnectionDocument>;
  close(): Promise<void>;
}

export async function startDeprovisionHarness(options: {
  sim: Simulator;
  redisUrl: string;
  mongoUrl: string;
  prefix: string;
  dbName: string;
  env?: Record<string, string | undefined>;
  /** Installs the reconciler's job scheduler, as the worker's composition root does. */
  reconcile?: boolean;
}): Promise<DeprovisionHarness> {
  const env: Record<string, string | undefined> = {
    ...options.sim.env(),
    REDIS_URL: options.redisUrl,
    MONGODB_URL: options.mongoUrl,
    MONGODB_DATABASE: options.dbName,
    QUEUE_PREFIX: options.prefix,
    RETRY_BACKOFF_BASE_MS: '50',
    RETRY_BACKOFF_MAX_MS: '400',
    HTTP_TIMEOUT_MS: '2000',
    ...options.env,
  };
  const config = loadDeprovisionWorkerConfig(env);
  const { logger, lines: logs } = capturingLogger('deprovision-worker');
  const mongo = new MongoClient(options.mongoUrl);
  await mongo.connect();
  const redis = new Redis(options.redisUrl, { maxRetriesPerRequest: null });
  const queue = new Queue(QUEUE_NAMES.deprovision, {
    connection: { url: options.redisUrl },
    prefix: options.prefix,
  });
  const deps = wireDeprovisionWorker(config, {
    redis,
    db: mongo.db(options.dbName),
    logger,
    deprovisionQueue: queue,
  });
  const repo = deps.repo;
  await repo.ensureIndexes();
  const worker = buildWorker(deps);
  if (options.reconcile === true) await scheduleReconciliation(queue, config.reconcile.everyMs);
  return {
    repo,
    queue,
    logs,
    worker,
    seedAccepted: async (activation) => {
      await repo.recordActivation({
        activation,
        requestId: 'req-activate',
        receivedAt: new Date(),
      });
      await repo.transition(activation.connectionId, ['received'], 'approved', {
        event: 'decided_approve',
        by: 'rules',
      });
      const approvedCallback = { call: 'callback', state: 'approved' } as const;
      const lease = await repo.acquireCallLease(activation.connectionId, approvedCallback, 10_000);
      if (lease.kind !== 'acquired') throw new Error(`no lease: ${lease.why}`);
      await repo.completeCallback(activation.connectionId, lease.leaseId, 'approved', {
        outcome: 'acknowledged',
        status: 200,
      });
    },
    deactivate: async (connectionId, jobId) => {
      const data = {
        connectionId,
        requestId: `req-deactivate-${connectionId.slice(0, 8)}`,
        receivedAt: new Date().toISOString(),
        token: { jti: 'AT.x', sub: 'provider' },
      };
      await queue.add(JOB_NAMES.deactivationReceived, data, {
        ...JOB_OPTIONS,
        jobId: jobId ?? jobIdFor.deactivationReceived(data),
      });
    },
    announceAccepted: async (activation) => {
      const data = {
        connectionId: activation.connectionId,
        subscriptionId: activation.subscriptionId,
        acceptedAt: new Date().toISOString(),
        requestId: 'req-activate',
      };
      await queue.add(JOB_NAMES.connectionAccepted, data, {
        ...JOB_OPTIONS,
        jobId: jobIdFor.connectionAccepted(data),
      });
    },
    waitForSteps: async (connectionId, steps, timeoutMs = 15_000) => {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = await repo.get(connectionId);
        if (
          found !== null &&
          steps.every((step) => found.steps?.[step as 'cleanup']?.status !== undefined)
        )
          return found;
        if (Date.now() > deadline)
          throw new Error(
            `steps ${steps.join(', ')} of ${connectionId} not finished: ${JSON.stringify(found?.steps)}`,
          );
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    close: async () => {
      await worker.close();
      await queue.close();
      redis.disconnect();
      await mongo.close();
    },
  };
}
