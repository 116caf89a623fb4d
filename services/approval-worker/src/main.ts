// Composition root of the approval worker: configuration, logger, clients, wiring, signals.
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import {
  ClientCredentialsTokenClient,
  ConnectionLocks,
  ConnectionRepository,
  createLogger,
  JOB_NAMES,
  JOB_OPTIONS,
  QUEUE_NAMES,
  runService,
} from '@fortellis-admin/contracts';
import { loadApprovalWorkerConfig } from './config.ts';
import { loadApprovalPolicy } from './data-access/approval-policy-file.ts';
import { CallbackClient } from './data-access/callback-client.ts';
import { buildWorker } from './worker.ts';

await runService({
  name: 'approval-worker',
  loadConfig: () => {
    const config = loadApprovalWorkerConfig(process.env);
    // An invalid rules file stops start-up like any other bad setting.
    return {
      ...config,
      policy: loadApprovalPolicy(config.approval.rulesFile, config.approval.defaultAction),
    };
  },
  createLogger: (config) => createLogger('approval-worker', config.logLevel),
  stopTimeoutMs: (config) => config.shutdownTimeoutMs,
  start: async (config, logger) => {
    const mongo = new MongoClient(config.mongo.url, { serverSelectionTimeoutMS: 5000 });
    await mongo.connect();
    // BullMQ workers need a connection that retries forever and never fails a blocking command.
    const redis = new Redis(config.redis.url, { maxRetriesPerRequest: null, lazyConnect: true });
    redis.on('error', (error) =>
      logger.warn({ err: { message: error.message } }, 'redis connection error'),
    );
    await redis.connect();
    const repo = new ConnectionRepository(
      mongo.db(config.mongo.database),
      new ConnectionLocks(redis, { prefix: config.redis.queuePrefix }),
    );
    await repo.ensureIndexes();
    const deprovisionQueue = new Queue(QUEUE_NAMES.deprovision, {
      connection: redis,
      prefix: config.redis.queuePrefix,
    });
    const worker = buildWorker({
      config,
      connection: redis,
      repo,
      policy: config.policy,
      callbacks: new CallbackClient({
        baseUrl: config.fortellis.callbackBaseUrl,
        timeoutMs: config.callback.timeoutMs,
      }),
      tokens: new ClientCredentialsTokenClient({
        scope: 'anonymous',
        tokenUrl: config.fortellis.tokenUrl,
        clientId: config.fortellis.clientId,
        clientSecret: config.fortellis.clientSecret,
        timeoutMs: config.callback.timeoutMs,
      }),
      announceAccepted: async (job, jobId) => {
        await deprovisionQueue.add(JOB_NAMES.connectionAccepted, job, { ...JOB_OPTIONS, jobId });
      },
      logger,
      clock: { now: () => new Date() },
      settings: {
        retryHorizonMs: config.callback.retryHorizonMs,
        callbackTimeoutMs: config.callback.timeoutMs,
      },
    });
    logger.info(
      {
        rules: config.policy.rules.length,
        defaultAction: config.policy.defaultAction,
        concurrency: config.worker.concurrency,
      },
      'approval policy loaded',
    );
    return {
      stop: async () => {
        // Let the jobs in hand finish; past the bound, close anyway: their locks lapse and another
        // worker picks them up (each step is idempotent).
        const graceful = worker.close();
        const bound = new Promise<'timeout'>((resolve) =>
          setTimeout(
            () => resolve('timeout'),
            Math.max(1000, config.shutdownTimeoutMs - 2000),
          ).unref(),
        );
        if ((await Promise.race([graceful.then(() => 'closed' as const), bound])) === 'timeout') {
          logger.warn('jobs still running at the shutdown bound: releasing them');
          await worker.close(true);
        }
        await deprovisionQueue.close();
        redis.disconnect();
        await mongo.close();
      },
    };
  },
});
