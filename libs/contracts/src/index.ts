// The public surface of @fortellis-admin/contracts: what crosses a process boundary. Schemas,
// derived types, validators, queue and job names, the job-id rule and the error family.
export * from './schemas/common-schemas.ts';
export * from './schemas/admin-api-schemas.ts';
export * from './schemas/outbound-schemas.ts';
export * from './schemas/job-schemas.ts';
export type * from './types.ts';
export * from './validators.ts';
export * from './queues.ts';
export * from './errors.ts';
