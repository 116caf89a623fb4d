// Wires the deprovision worker from its configuration and clients: the repository, the backend
// deprovisioner, the status reporting, the call-outcome ledger. Says in the log what it will not
// do. Shared by main.ts and the tests.
import type { Queue } from 'bullmq';
import type { Cluster, Redis } from 'ioredis';
import type { Db } from 'mongodb';
import { ConnectionRepository } from '@fortellis-admin/connection-store';
import {
  attemptLeaseMs,
  queueReconcilerJobs,
  RedisCallOutcomeLedger,
  type Logger,
  givenRecorders,
  type WorkerRecorders,
} from '@fortellis-admin/service-kit';
import type { DeprovisionWorkerConfig } from './config.ts';
import {
  HttpAccountDeprovisioner,
  NoAccountDeprovisioner,
} from './data-access/account-deprovisioner.ts';
import { IntegrationStatusClient } from './data-access/integration-status-client.ts';
import type { DeprovisionWorkerDeps } from './worker.ts';

/** What the deprovision worker is wired from: its connections and queue. */
export interface DeprovisionWorkerClients extends WorkerRecorders {
  /** BullMQ's connection (`maxRetriesPerRequest: null`). */
  redis: Redis | Cluster;
  /** The service's own Redis connection (locks, ledger); BullMQ's `redis` when not given. */
  appRedis?: Redis | Cluster;
  /** The connection store as `ConnectionRepository.open` made it; locked writes when not given. */
  repo?: ConnectionRepository;
  db: Db;
  logger: Logger;
  /** The worker's own queue, where the reconciler looks and publishes. */
  deprovisionQueue: Queue;
  clock?: { now(): Date };
}

/** The deprovision worker's dependencies, ready for buildWorker. */
export function wireDeprovisionWorker(
  config: DeprovisionWorkerConfig,
  clients: DeprovisionWorkerClients,
): DeprovisionWorkerDeps {
  const { logger } = clients;
  const appRedis = clients.appRedis ?? clients.redis;
  const { queuePrefix: prefix, replicas = 0 } = config.redis;
  return {
    config,
    connection: clients.redis,
    repo: clients.repo ?? ConnectionRepository.locked(clients.db, appRedis, prefix, replicas),
    deprovisioner: backendDeprovisioner(config, logger),
    status: statusReporting(config, logger),
    logger,
    clock: clients.clock ?? { now: () => new Date() },
    ledger: new RedisCallOutcomeLedger(appRedis, { prefix, replicaWait: { replicas } }),
    settings: {
      retryHorizonMs: config.http.retryHorizonMs,
      // The token clients share the HTTP timeout.
      stepLeaseMs: attemptLeaseMs({
        callMs: config.http.timeoutMs,
        tokenMs: config.http.timeoutMs,
      }),
      reconcile: { stalledAfterMs: config.reconcile.stalledAfterMs, batchSize: 100 },
    },
    reconcilerJobs: queueReconcilerJobs(clients.deprovisionQueue),
    ...givenRecorders(clients),
  };
}

/** The backend's clean-up of the buyer's account (BACKEND_DEPROVISIONER), or none. */
function backendDeprovisioner(
  config: DeprovisionWorkerConfig,
  logger: Logger,
): DeprovisionWorkerDeps['deprovisioner'] {
  const { backend } = config;
  if (backend.kind === 'none') {
    logger.info('backend deprovisioner is "none": no backend accounts will be cleaned up');
    return new NoAccountDeprovisioner();
  }
  return new HttpAccountDeprovisioner({
    url: backend.url,
    secret: backend.secret,
    header: backend.header,
    timeoutMs: config.http.timeoutMs,
  });
}

/** The report of activations and deactivations to the integration platform, when configured. */
function statusReporting(
  config: DeprovisionWorkerConfig,
  logger: Logger,
): DeprovisionWorkerDeps['status'] {
  const status = config.integrationStatus;
  if (status === undefined) {
    logger.info('INTEGRATION_STATUS_BASE_URL is not set: deactivations will not be reported');
    return undefined;
  }
  return {
    client: new IntegrationStatusClient({
      baseUrl: status.baseUrl,
      clientId: status.clientId,
      clientSecret: status.clientSecret,
      tenantId: status.tenantId,
      timeoutMs: config.http.timeoutMs,
    }),
    applicationCode: status.applicationCode,
    module: status.module,
    vendorSystem: status.vendorSystem,
    reportActivations: status.reportActivations,
  };
}
