// Wires the operations service from its configuration and clients: the publisher of the operators'
// jobs, the connection store, the metrics and the readiness checks. Used by main.ts.
import type { MongoClient } from 'mongodb';
import { ConnectionRepository } from '@fortellis-admin/connection-store';
import { JobPublisher, type Logger, type RedisClient } from '@fortellis-admin/service-kit';
import type { OperationsDeps } from './app.ts';
import type { OperationsConfig } from './config.ts';
import { createOperationsMetrics, WAITING_STATES } from './operations-metrics.ts';

export interface OperationsWiring {
  deps: OperationsDeps;
  /** Closed on stop, after the app. */
  publisher: JobPublisher;
}

/** The operations service's dependencies, ready for buildApp, and what must be closed on stop. */
export async function wireOperations(
  config: OperationsConfig,
  clients: { mongo: MongoClient; redis: RedisClient; logger: Logger },
): Promise<OperationsWiring> {
  const { mongo, redis, logger } = clients;
  // The operators' jobs get the ingress's guarantee: a 202 means stored, anything else never happens.
  const publisher = new JobPublisher({
    connection: redis,
    prefix: config.redis.queuePrefix,
    logger,
    ackReplicas: config.redis.replicas ?? 0,
  });
  const repo = await ConnectionRepository.open(mongo.db(config.mongo.database), redis, {
    prefix: config.redis.queuePrefix,
    logger,
    replicas: config.redis.replicas ?? 0,
  });
  return {
    publisher,
    deps: {
      logger,
      trustProxy: config.http.trustProxy,
      approvalDefaultAction: config.approval.defaultAction,
      tokens: config.tokens,
      // The login throttle's counters in the same Redis, so every replica counts the same attempts.
      loginThrottleStore: { redis, keyPrefix: config.redis.queuePrefix },
      repo,
      publisher,
      queues: publisher.queues,
      clock: { now: () => new Date() },
      metrics: createOperationsMetrics(() => repo.oldestWaiting(WAITING_STATES)),
      readiness: {
        redis: async () => (await redis.ping()) === 'PONG',
        mongodb: async () => {
          await mongo.db('admin').command({ ping: 1 });
          return true;
        },
      },
    },
  };
}
