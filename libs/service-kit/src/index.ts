// The public surface of @fortellis-admin/service-kit: the runtime every service shares. Config
// loading, logger, metrics, retry policy, HTTP error handler, HTTP and token clients, worker
// runner, shutdown.
export * from './config-loader.ts';
export * from './production-guard.ts';
export * from './url-redaction.ts';
export * from './logger.ts';
export * from './service-runner.ts';
export * from './retry-policy.ts';
export * from './leased-call.ts';
export * from './client-credentials-token-client.ts';
export * from './http-post.ts';
export * from './http-attempt.ts';
export * from './answer-body.ts';
export * from './kept-answer.ts';
export * from './worker-shutdown.ts';
export * from './queue-worker.ts';
export * from './queue-worker-declaration.ts';
export * from './worker-clients.ts';
export * from './queue-worker-service.ts';
export * from './metrics.ts';
export * from './http-error-handler.ts';
export * from './health-routes.ts';
export * from './job-publisher.ts';
export * from './redis-connection.ts';
export * from './ack-durability.ts';
export * from './redis-clock.ts';
export * from './call-outcome-ledger.ts';
export * from './reconciler.ts';
export * from './command-counting.ts';
export * from './request-logging.ts';
export * from './metric-catalog.ts';
