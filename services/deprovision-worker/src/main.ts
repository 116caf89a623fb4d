// Composition root of the deprovision worker: configuration, logger, clients, wiring, signals.
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import {
  ConnectionLocks,
  ConnectionRepository,
  createLogger,
  runService,
} from '@fortellis-admin/contracts';
import { loadDeprovisionWorkerConfig } from './config.ts';
import {
  HttpAccountDeprovisioner,
  NoAccountDeprovisioner,
} from './data-access/account-deprovisioner.ts';
import { IntegrationStatusClient } from './data-access/integration-status-client.ts';
import { buildWorker } from './worker.ts';

await runService({
  name: 'deprovision-worker',
  loadConfig: () => loadDeprovisionWorkerConfig(process.env),
  createLogger: (config) => createLogger('deprovision-worker', config.logLevel),
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

    const backend = config.backend;
    const deprovisioner =
      backend.kind === 'http'
        ? new HttpAccountDeprovisioner({
            url: backend.url,
            secret: backend.secret,
            header: backend.header,
            timeoutMs: config.http.timeoutMs,
          })
        : new NoAccountDeprovisioner();
    if (backend.kind === 'none')
      logger.info('backend deprovisioner is "none": no backend accounts will be cleaned up');
    const status = config.integrationStatus;
    if (status === undefined)
      logger.info('INTEGRATION_STATUS_BASE_URL is not set: deactivations will not be reported');

    const worker = buildWorker({
      config,
      connection: redis,
      repo,
      deprovisioner,
      status:
        status === undefined
          ? undefined
          : {
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
            },
      logger,
      clock: { now: () => new Date() },
      settings: {
        retryHorizonMs: config.http.retryHorizonMs,
        httpTimeoutMs: config.http.timeoutMs,
      },
    });
    logger.info(
      {
        database: config.mongo.database,
        queuePrefix: config.redis.queuePrefix,
        concurrency: config.worker.concurrency,
      },
      'connected',
    );
    return {
      stop: async () => {
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
        redis.disconnect();
        await mongo.close();
      },
    };
  },
});
