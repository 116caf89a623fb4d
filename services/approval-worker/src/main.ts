// Composition root of the approval worker: configuration, logger, clients, wiring, signals.
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { closeWorker, createLogger, QUEUE_NAMES, runService } from '@fortellis-admin/contracts';
import { loadApprovalWorkerConfig } from './config.ts';
import { loadApprovalPolicy } from './data-access/approval-policy-file.ts';
import { buildWorker, createApprovalDeps } from './worker.ts';

await runService({
  name: 'approval-worker',
  loadConfig: () => {
    const config = loadApprovalWorkerConfig(process.env);
    // An invalid rules file stops start-up like any other bad setting.
    return {
      config,
      policy: loadApprovalPolicy(config.approval.rulesFile, config.approval.defaultAction),
    };
  },
  createLogger: ({ config }) => createLogger('approval-worker', config.logLevel),
  stopTimeoutMs: ({ config }) => config.shutdownTimeoutMs,
  start: async ({ config, policy }, logger) => {
    const mongo = new MongoClient(config.mongo.url, { serverSelectionTimeoutMS: 5000 });
    await mongo.connect();
    // BullMQ workers need a connection that retries forever and never fails a blocking command.
    const redis = new Redis(config.redis.url, { maxRetriesPerRequest: null, lazyConnect: true });
    redis.on('error', (error) =>
      logger.warn({ err: { message: error.message } }, 'redis connection error'),
    );
    await redis.connect();
    const deprovisionQueue = new Queue(QUEUE_NAMES.deprovision, {
      connection: redis,
      prefix: config.redis.queuePrefix,
    });
    const deps = createApprovalDeps(config, {
      redis,
      db: mongo.db(config.mongo.database),
      logger,
      policy,
      deprovisionQueue,
    });
    await deps.repo.ensureIndexes();
    const worker = buildWorker(deps);
    logger.info(
      {
        rules: policy.rules.length,
        defaultAction: policy.defaultAction,
        concurrency: config.worker.concurrency,
      },
      'approval policy loaded',
    );
    return {
      stop: async () => {
        await closeWorker(worker, config.shutdownTimeoutMs, logger);
        await deprovisionQueue.close();
        redis.disconnect();
        await mongo.close();
      },
    };
  },
});
