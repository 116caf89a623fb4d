// Composition root of the approval worker: configuration and policy, logger, then the worker's
// process as every queue worker runs it (startQueueWorkerService: connections, the store, the deps
// of wiring.ts, the worker of worker.ts, reconciliation and monitoring, and how they stop).
import { QUEUE_NAMES } from '@fortellis-admin/contracts';
import {
  createLogger,
  queueOf,
  runService,
  startQueueWorkerService,
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
    const service = await startQueueWorkerService({
      service: 'approval-worker',
      queue: QUEUE_NAMES.approval,
      // Accepted connections are announced to the deprovision worker.
      publishesTo: [QUEUE_NAMES.deprovision],
      config,
      logger,
      wire: ({ clients, db, repo, queues, ...recorders }) =>
        wireApprovalWorker(config, {
          redis: clients.redis,
          appRedis: clients.appRedis,
          db,
          repo,
          logger,
          policy,
          deprovisionQueue: queueOf(queues, QUEUE_NAMES.deprovision),
          approvalQueue: queueOf(queues, QUEUE_NAMES.approval),
          ...recorders,
        }),
      build: buildWorker,
    });
    logPolicy(config, policy, logger);
    return service;
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
