// Composition root of the operations service: configuration, logger, Redis and MongoDB clients,
// wiring, signals.
import { MongoClient } from 'mongodb';
import {
  createLogger,
  createProducerConnection,
  JobPublisher,
  runService,
} from '@fortellis-admin/service-kit';
import { ConnectionRepository } from '@fortellis-admin/connection-store';
import { buildApp } from './app.ts';
import { loadOperationsConfig } from './config.ts';
import { DEFAULT_OPERATOR_ROLE } from './domain/operator-roles.ts';
import { createOperationsMetrics, WAITING_STATES } from './operations-metrics.ts';

await runService({
  name: 'operations',
  loadConfig: () => loadOperationsConfig(process.env),
  createLogger: (config) => createLogger('operations', config.logLevel),
  stopTimeoutMs: (config) => config.shutdownTimeoutMs,
  start: async (config, logger) => {
    const mongo = new MongoClient(config.mongo.url, { serverSelectionTimeoutMS: 5000 });
    await mongo.connect();
    const redis = createProducerConnection(config.redis, logger);
    // Without Redis the console still starts (and /ready says so) and keeps reconnecting.
    await redis
      .connect()
      .catch((error: unknown) =>
        logger.error({ err: error }, 'redis not reachable at start; retrying'),
      );
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
    const app = await buildApp({
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
    });
    await app.listen({ host: config.http.host, port: config.http.port });
    logger.info(
      {
        operators: config.tokens.length,
        roles: config.tokens.map(({ name, role }) => `${name}:${role}`),
      },
      'operator tokens loaded',
    );
    const defaulted = config.tokens.filter((entry) => entry.roleDefaulted).map(({ name }) => name);
    if (defaulted.length > 0)
      logger.warn(
        { event: 'operator_role_defaulted', entries: defaulted, role: DEFAULT_OPERATOR_ROLE },
        `OPS_API_TOKENS entries without a role get ${DEFAULT_OPERATOR_ROLE} (review, suspend, retry; not Bull Board's actions nor the rules dry run): write name:role=token (${defaulted.join(', ')})`,
      );
    return {
      stop: async () => {
        await app.close();
        await publisher.close();
        await mongo.close();
        redis.disconnect();
      },
    };
  },
});
