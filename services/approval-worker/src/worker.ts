// Builds the approval worker: the BullMQ worker on the approval queue with its processor,
// backoff, rate limit and concurrency. No process handling.
import type { ConnectionOptions, Queue, Worker } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import type { Db } from 'mongodb';
import { JOB_NAMES, JOB_OPTIONS, QUEUE_NAMES } from '@fortellis-admin/contracts';
import { type Logger } from '@fortellis-admin/service-kit';
import {
  attemptLeaseMs,
  ClientCredentialsTokenClient,
  queueReconcilerJobs,
  RedisCallOutcomeLedger,
  createQueueWorker,
  type OutsideCallRecorder,
  type RateLimitRecorder,
  type GiveUpRecorder,
} from '@fortellis-admin/service-kit';
import { ConnectionRepository } from '@fortellis-admin/connection-store';
import { HttpAccountProvisioner, NoAccountProvisioner } from './data-access/account-provisioner.ts';
import { CallbackClient } from './data-access/callback-client.ts';
import { AesGcmCredentialSealer, parseCredentialsKeys } from './domain/credential-seal.ts';
import type { ApprovalPolicy } from '@fortellis-admin/approval-rules';
import type { ApprovalWorkerConfig } from './config.ts';
import {
  createApprovalProcessor,
  type ApprovalProcessorDeps,
  type ApprovalJobResult,
} from './entry-points/approval-processor.ts';

/** The use cases' ports, as the composition root has them: the whole repository and token client. */
export interface ApprovalWorkerDeps extends ApprovalProcessorDeps {
  repo: ConnectionRepository;
  tokens: ClientCredentialsTokenClient;
  config: ApprovalWorkerConfig;
  /** A connection with `maxRetriesPerRequest: null`, as BullMQ workers require. */
  connection: ConnectionOptions;
  /** Counts each pause of the queue after a 429, when metrics are collected. */
  recordRateLimit?: RateLimitRecorder;
}

export function buildWorker(deps: ApprovalWorkerDeps): Worker<unknown, ApprovalJobResult> {
  const { config } = deps;
  return createQueueWorker({
    queue: QUEUE_NAMES.approval,
    processor: createApprovalProcessor(deps),
    connection: deps.connection,
    prefix: config.redis.queuePrefix,
    concurrency: config.worker.concurrency,
    lockMs: config.worker.lockMs,
    keepFailed: config.worker.keepFailed,
    backoff: config.callback.backoff,
    ratePerSecond: config.callback.ratePerSecond,
    logger: deps.logger,
    ...(deps.recordRateLimit === undefined ? {} : { recordRateLimit: deps.recordRateLimit }),
  });
}

/**
 * Wires the worker's dependencies from its configuration and clients: the repository, the backend
 * provisioner and the credentials' seal, the token and callback clients, the announcement of
 * accepted connections to the deprovision queue.
 */
export function createApprovalDeps(
  config: ApprovalWorkerConfig,
  clients: {
    redis: Redis | Cluster;
    /** The service's own Redis connection (locks, ledger); BullMQ's `redis` when not given. */
    appRedis?: Redis | Cluster;
    /** The connection store as `ConnectionRepository.open` made it; locked writes when not given. */
    repo?: ConnectionRepository;
    db: Db;
    logger: Logger;
    policy: ApprovalPolicy;
    deprovisionQueue: Queue;
    /** The worker's own queue, where the reconciler looks and publishes. */
    approvalQueue: Queue;
    clock?: { now(): Date };
    recordCall?: OutsideCallRecorder;
    recordRateLimit?: RateLimitRecorder;
    recordGiveUp?: GiveUpRecorder;
  },
): ApprovalWorkerDeps {
  return {
    config,
    connection: clients.redis,
    repo:
      clients.repo ??
      ConnectionRepository.locked(
        clients.db,
        clients.appRedis ?? clients.redis,
        config.redis.queuePrefix,
        config.redis.replicas ?? 0,
      ),
    policy: clients.policy,
    provisioner:
      config.provisioning.kind === 'http'
        ? new HttpAccountProvisioner(config.provisioning)
        : new NoAccountProvisioner(),
    sealer:
      config.provisioning.kind === 'http'
        ? new AesGcmCredentialSealer(parseCredentialsKeys(config.provisioning.credentialsKey))
        : undefined,
    callbacks: new CallbackClient({
      baseUrl: config.fortellis.callbackBaseUrl,
      timeoutMs: config.callback.timeoutMs,
    }),
    tokens: new ClientCredentialsTokenClient({
      tokenUrl: config.fortellis.tokenUrl,
      clientId: config.fortellis.clientId,
      clientSecret: config.fortellis.clientSecret,
      scope: 'anonymous',
      timeoutMs: config.callback.timeoutMs,
    }),
    announceAccepted: async (job, jobId) => {
      await clients.deprovisionQueue.add(JOB_NAMES.connectionAccepted, job, {
        ...JOB_OPTIONS,
        jobId,
      });
    },
    logger: clients.logger,
    clock: clients.clock ?? { now: () => new Date() },
    ledger: new RedisCallOutcomeLedger(clients.appRedis ?? clients.redis, {
      prefix: config.redis.queuePrefix,
      replicaWait: { replicas: config.redis.replicas ?? 0 },
    }),
    settings: {
      retryHorizonMs: config.callback.retryHorizonMs,
      callbackLeaseMs: attemptLeaseMs({
        callMs: config.callback.timeoutMs,
        tokenMs: config.callback.timeoutMs,
      }),
      provisioningLeaseMs: attemptLeaseMs({
        callMs: config.provisioning.kind === 'http' ? config.provisioning.timeoutMs : 0,
        tokenMs: 0,
      }),
      reconcile: { stalledAfterMs: config.reconcile.stalledAfterMs, batchSize: 100 },
    },
    reconcilerJobs: queueReconcilerJobs(clients.approvalQueue),
    ...(clients.recordCall === undefined ? {} : { recordCall: clients.recordCall }),
    ...(clients.recordGiveUp === undefined ? {} : { recordGiveUp: clients.recordGiveUp }),
    ...(clients.recordRateLimit === undefined ? {} : { recordRateLimit: clients.recordRateLimit }),
  };
}
