// Wires the approval worker from its configuration and clients: the repository, the backend
// provisioner and the credentials' seal, the token and callback clients, the call-outcome ledger,
// the announcement of accepted connections to the deprovision queue. Shared by main.ts and the tests.
import type { Queue } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import type { Db } from 'mongodb';
import { JOB_NAMES, JOB_OPTIONS } from '@fortellis-admin/contracts';
import { ConnectionRepository } from '@fortellis-admin/connection-store';
import type { ApprovalPolicy } from '@fortellis-admin/approval-rules';
import {
  attemptLeaseMs,
  ClientCredentialsTokenClient,
  queueReconcilerJobs,
  RedisCallOutcomeLedger,
  type Logger,
  givenRecorders,
  type WorkerRecorders,
} from '@fortellis-admin/service-kit';
import type { ApprovalWorkerConfig } from './config.ts';
import { HttpAccountProvisioner, NoAccountProvisioner } from './data-access/account-provisioner.ts';
import { CallbackClient } from './data-access/callback-client.ts';
import { AesGcmCredentialSealer, parseCredentialsKeys } from './domain/credential-seal.ts';
import type { ApprovalWorkerDeps } from './worker.ts';

/** What the approval worker is wired from: its connections, queues and policy. */
export interface ApprovalWorkerClients extends WorkerRecorders {
  /** BullMQ's connection (`maxRetriesPerRequest: null`). */
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
}

/** The approval worker's dependencies, ready for buildWorker. */
export function wireApprovalWorker(
  config: ApprovalWorkerConfig,
  clients: ApprovalWorkerClients,
): ApprovalWorkerDeps {
  const appRedis = clients.appRedis ?? clients.redis;
  const { queuePrefix: prefix, replicas = 0 } = config.redis;
  return {
    config,
    connection: clients.redis,
    repo: clients.repo ?? ConnectionRepository.locked(clients.db, appRedis, prefix, replicas),
    policy: clients.policy,
    ...outsideCallClients(config),
    announceAccepted: async (job, jobId) => {
      await clients.deprovisionQueue.add(JOB_NAMES.connectionAccepted, job, {
        ...JOB_OPTIONS,
        jobId,
      });
    },
    logger: clients.logger,
    clock: clients.clock ?? { now: () => new Date() },
    ledger: new RedisCallOutcomeLedger(appRedis, { prefix, replicaWait: { replicas } }),
    settings: approvalSettings(config),
    reconcilerJobs: queueReconcilerJobs(clients.approvalQueue),
    ...givenRecorders(clients),
  };
}

/**
 * The clients of the outside calls: the backend's provisioning and the seal of the credentials it
 * answers (with BACKEND_PROVISIONER=http), the callback and its token.
 */
function outsideCallClients(
  config: ApprovalWorkerConfig,
): Pick<ApprovalWorkerDeps, 'provisioner' | 'sealer' | 'callbacks' | 'tokens'> {
  const { provisioning } = config;
  return {
    provisioner:
      provisioning.kind === 'http'
        ? new HttpAccountProvisioner(provisioning)
        : new NoAccountProvisioner(),
    sealer:
      provisioning.kind === 'http'
        ? new AesGcmCredentialSealer(parseCredentialsKeys(provisioning.credentialsKey))
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
  };
}

/** The retry horizon, each call's lease (its calls with a margin) and the reconciler's settings. */
function approvalSettings(config: ApprovalWorkerConfig): ApprovalWorkerDeps['settings'] {
  return {
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
  };
}
