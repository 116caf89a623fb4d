// Composition root of the approval worker: configuration and policy, logger, connections, the deps
// (wiring.ts) and the worker (worker.ts), reconciliation and monitoring, and how they stop.
import { Queue } from 'bullmq';
import { QUEUE_NAMES } from '@fortellis-admin/contracts';
import { ConnectionRepository } from '@fortellis-admin/connection-store';
import {
  closeWorker,
  connectWorkerClients,
  createLogger,
  createMetricsRegistry,
  outsideCallCounter,
  rateLimitCounter,
  giveUpCounter,
  startWorkerMonitoring,
  runService,
  keepReconciliationScheduled,
  type Logger,
} from '@fortellis-admin/service-kit';
import { loadApprovalPolicy, type ApprovalPolicy } from '@fortellis-admin/approval-rules';
import { loadApprovalWorkerConfig, type ApprovalWorkerConfig } from './config.ts';
import { wireApprovalWorker } from './wiring.ts';
import { buildWorker } from './worker.ts';

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
    const registry = createMetricsRegistry('approval-worker');
    const clients = await connectWorkerClients(
      { mongoUrl: config.mongo.url, redis: config.redis },
      logger,
      registry,
    );
    const deprovisionQueue = new Queue(QUEUE_NAMES.deprovision, {
      connection: clients.redis,
      prefix: config.redis.queuePrefix,
    });
    const approvalQueue = new Queue(QUEUE_NAMES.approval, {
      connection: clients.redis,
      prefix: config.redis.queuePrefix,
    });
    const deps = wireApprovalWorker(config, {
      redis: clients.redis,
      appRedis: clients.appRedis,
      db: clients.mongo.db(config.mongo.database),
      repo: await ConnectionRepository.open(
        clients.mongo.db(config.mongo.database),
        clients.appRedis,
        {
          prefix: config.redis.queuePrefix,
          logger,
          replicas: config.redis.replicas ?? 0,
        },
      ),
      logger,
      policy,
      deprovisionQueue,
      approvalQueue,
      recordCall: outsideCallCounter(registry),
      recordRateLimit: rateLimitCounter(registry),
      recordGiveUp: giveUpCounter(registry),
    });
    await deps.repo.ensureIndexes();
    const worker = buildWorker(deps);
    const reconciliation = await keepReconciliationScheduled(
      approvalQueue,
      config.reconcile.everyMs,
      logger,
    );
    const monitoring = await startWorkerMonitoring({
      clients,
      registry,
      worker,
      queueName: QUEUE_NAMES.approval,
      prefix: config.redis.queuePrefix,
      ...config.monitoring,
      logger,
    });
    logPolicy(config, policy, logger);
    return {
      stop: async () => {
        reconciliation.stop();
        await closeWorker(worker, config.shutdownTimeoutMs, logger);
        await monitoring.close();
        await deprovisionQueue.close();
        await approvalQueue.close();
        await clients.close();
      },
    };
  },
});

/** Says which policy decides, and warns when every activation is approved unreviewed. */
function logPolicy(config: ApprovalWorkerConfig, policy: ApprovalPolicy, logger: Logger): void {
  logger.info(
    {
      rules: policy.rules.length,
      defaultAction: policy.defaultAction,
      concurrency: config.worker.concurrency,
    },
    'approval policy loaded',
  );
  if (policy.defaultAction === 'approve' && config.approval.rulesFile === undefined)
    // Fine for a demo against the simulator, never unnoticed in a real deployment.
    logger.warn(
      { defaultAction: policy.defaultAction },
      'APPROVAL_DEFAULT_ACTION=approve and no APPROVAL_RULES_FILE: every activation is approved, none is reviewed',
    );
}
