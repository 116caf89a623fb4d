// The public surface of @fortellis-admin/contracts: schemas, types, validators, queue and job
// names, the configuration loader and the error family.
export * from './schemas/common-schemas.ts';
export * from './schemas/admin-api-schemas.ts';
export * from './schemas/outbound-schemas.ts';
export * from './schemas/job-schemas.ts';
export type * from './types.ts';
export * from './validators.ts';
export * from './queues.ts';
export * from './errors.ts';
export * from './config-loader.ts';
export * from './runtime/logger.ts';
export * from './runtime/service-runner.ts';
export * from './connections/connection-states.ts';
export * from './connections/connection-repository.ts';
export * from './connections/connection-lock.ts';
export * from './runtime/retry-policy.ts';
export * from './runtime/client-credentials-token-client.ts';
export * from './runtime/http-post.ts';
export * from './runtime/worker-shutdown.ts';
export * from './runtime/queue-worker.ts';
export * from './runtime/worker-clients.ts';
export * from './runtime/metrics.ts';
