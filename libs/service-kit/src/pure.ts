// `@fortellis-admin/service-kit/pure`: the helpers a use case decides with (retry policy and
// answer verdicts, the leased-call protocol, reading an HTTP attempt, what is kept of an answer,
// the reconciler's run). Importing it loads no driver or framework (no bullmq, fastify, ioredis,
// mongodb, pino, prom-client, undici), so `services/*/src/domain` imports from here; the package's
// main entry re-exports all of it beside the runtime. pure.test.ts holds every module here to that.
export * from './retry-policy.ts';
export * from './leased-call.ts';
export * from './http-attempt.ts';
export * from './answer-body.ts';
export * from './kept-answer.ts';
export * from './url-redaction.ts';
export * from './job-context.ts';
// By name: these modules also hold adapters (the Redis ledger, the BullMQ scheduler) whose drivers
// they import as types only; the adapters stay with the runtime in the main entry.
export {
  attemptLeaseMs,
  recordCallEnd,
  type CallEndRecord,
  type CallOutcomeLedger,
} from './call-outcome-ledger.ts';
export {
  reconcileStalled,
  type ReconcileDeps,
  type ReconcilerJobs,
  type ReconcilerSettings,
  type StalledCandidate,
} from './reconciler.ts';
// The logger's type only (erased at run time): use cases take a logger but never make one.
export type { Logger } from './logger.ts';
