// TypeScript types derived from the schemas: the schemas are the only source of truth.
import type { FromSchema } from 'json-schema-to-ts';
import type {
  activateRequestSchema,
  errorResponseSchema,
  linksResponseSchema,
} from './schemas/admin-api-schemas.ts';
import type { linkSchema } from './schemas/common-schemas.ts';
import type {
  activationReceivedJobSchema,
  connectionAcceptedJobSchema,
  deactivationReceivedJobSchema,
  retryRequestedJobSchema,
  reviewDecidedJobSchema,
  stalledConnectionFoundJobSchema,
  suspensionRequestedJobSchema,
} from './schemas/job-schemas.ts';
import type {
  backendProvisionAnswerSchema,
  backendProvisionRequestSchema,
  connectionCallbackBodySchema,
  integrationStatusBodySchema,
} from './schemas/outbound-schemas.ts';

export type ActivateRequest = FromSchema<typeof activateRequestSchema>;
export type Link = FromSchema<typeof linkSchema>;
export type LinksResponse = FromSchema<typeof linksResponseSchema>;
export type ErrorResponse = FromSchema<typeof errorResponseSchema>;
export type ConnectionCallbackBody = FromSchema<typeof connectionCallbackBodySchema>;
export type IntegrationStatusBody = FromSchema<typeof integrationStatusBodySchema>;
export type BackendProvisionRequest = FromSchema<typeof backendProvisionRequestSchema>;
export type BackendProvisionAnswer = FromSchema<typeof backendProvisionAnswerSchema>;
export type ActivationReceivedJob = FromSchema<typeof activationReceivedJobSchema>;
export type DeactivationReceivedJob = FromSchema<typeof deactivationReceivedJobSchema>;
export type ReviewDecidedJob = FromSchema<typeof reviewDecidedJobSchema>;
export type SuspensionRequestedJob = FromSchema<typeof suspensionRequestedJobSchema>;
export type ConnectionAcceptedJob = FromSchema<typeof connectionAcceptedJobSchema>;
export type RetryRequestedJob = FromSchema<typeof retryRequestedJobSchema>;
export type StalledConnectionFoundJob = FromSchema<typeof stalledConnectionFoundJobSchema>;
