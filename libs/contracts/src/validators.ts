// Validators compiled once per process from the contract schemas, with readable issues.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { ContractViolationError, type ContractIssue } from './errors.ts';
import {
  activateRequestSchema,
  errorResponseSchema,
  linksResponseSchema,
} from './schemas/admin-api-schemas.ts';
import { GUID_FORMAT, GUID_PATTERN } from './schemas/common-schemas.ts';
import {
  activationReceivedJobSchema,
  connectionAcceptedJobSchema,
  deactivationReceivedJobSchema,
  retryRequestedJobSchema,
  stalledConnectionFoundJobSchema,
  reviewDecidedJobSchema,
  suspensionRequestedJobSchema,
} from './schemas/job-schemas.ts';
import {
  backendProvisionAnswerSchema,
  backendProvisionRequestSchema,
  connectionCallbackBodySchema,
  integrationStatusBodySchema,
} from './schemas/outbound-schemas.ts';
import type {
  ActivateRequest,
  BackendProvisionAnswer,
  BackendProvisionRequest,
  ActivationReceivedJob,
  ConnectionAcceptedJob,
  ConnectionCallbackBody,
  DeactivationReceivedJob,
  ErrorResponse,
  IntegrationStatusBody,
  LinksResponse,
  RetryRequestedJob,
  StalledConnectionFoundJob,
  ReviewDecidedJob,
  SuspensionRequestedJob,
} from './types.ts';

// ajv-formats is CommonJS with a default export; under NodeNext its callable is `.default`.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/** Creates an ajv instance configured the way every contract in the system expects. */
export function createAjv(options: { coerceTypes?: boolean; useDefaults?: boolean } = {}): Ajv {
  const ajv = new Ajv({
    allErrors: true,
    strict: true,
    strictRequired: false,
    coerceTypes: options.coerceTypes ?? false,
    useDefaults: options.useDefaults ?? false,
  });
  addFormats(ajv, ['email', 'date-time', 'uri']);
  ajv.addFormat(GUID_FORMAT, GUID_PATTERN);
  return ajv;
}

/** Turns ajv's errors into pointer + message pairs that a caller can act on. */
export function toIssues(errors: readonly ErrorObject[] | null | undefined): ContractIssue[] {
  return (errors ?? []).map((error) => {
    if (error.keyword === 'required') {
      const missing = (error.params as { missingProperty: string }).missingProperty;
      return { pointer: `${error.instancePath}/${missing}`, message: 'is required' };
    }
    if (error.keyword === 'format') {
      const format = (error.params as { format: string }).format;
      return { pointer: error.instancePath, message: `must be a valid ${format}` };
    }
    return { pointer: error.instancePath, message: error.message ?? 'is invalid' };
  });
}

/** A compiled contract: a type guard plus a checker that explains what is wrong. */
export interface Contract<T> {
  readonly name: string;
  /** True when `data` satisfies the schema. */
  is: (data: unknown) => data is T;
  /** The problems found, first ones first; empty when valid. */
  issues: (data: unknown) => ContractIssue[];
  /** Returns `data` typed, or throws {@link ContractViolationError}. */
  parse: (data: unknown) => T;
}

function compile<T>(ajv: Ajv, name: string, schema: object): Contract<T> {
  const validate = ajv.compile(schema) as ValidateFunction<T>;
  return {
    name,
    is: (data: unknown): data is T => validate(data),
    issues: (data: unknown) => (validate(data) ? [] : toIssues(validate.errors)),
    parse: (data: unknown): T => {
      if (validate(data)) return data;
      throw new ContractViolationError(name, toIssues(validate.errors));
    },
  };
}

const ajv = createAjv();

/** Every contract of the system, compiled once when this module is first imported. */
export const contracts = Object.freeze({
  activateRequest: compile<ActivateRequest>(ajv, 'activate request', activateRequestSchema),
  linksResponse: compile<LinksResponse>(ajv, 'links response', linksResponseSchema),
  errorResponse: compile<ErrorResponse>(ajv, 'error response', errorResponseSchema),
  connectionCallbackBody: compile<ConnectionCallbackBody>(
    ajv,
    'connection callback body',
    connectionCallbackBodySchema,
  ),
  integrationStatusBody: compile<IntegrationStatusBody>(
    ajv,
    'integration status body',
    integrationStatusBodySchema,
  ),
  backendProvisionRequest: compile<BackendProvisionRequest>(
    ajv,
    'backend provision request',
    backendProvisionRequestSchema,
  ),
  backendProvisionAnswer: compile<BackendProvisionAnswer>(
    ajv,
    'backend provision answer',
    backendProvisionAnswerSchema,
  ),
  activationReceivedJob: compile<ActivationReceivedJob>(
    ajv,
    'ActivationReceived job',
    activationReceivedJobSchema,
  ),
  deactivationReceivedJob: compile<DeactivationReceivedJob>(
    ajv,
    'DeactivationReceived job',
    deactivationReceivedJobSchema,
  ),
  reviewDecidedJob: compile<ReviewDecidedJob>(ajv, 'ReviewDecided job', reviewDecidedJobSchema),
  suspensionRequestedJob: compile<SuspensionRequestedJob>(
    ajv,
    'SuspensionRequested job',
    suspensionRequestedJobSchema,
  ),
  retryRequestedJob: compile<RetryRequestedJob>(ajv, 'RetryRequested job', retryRequestedJobSchema),
  stalledConnectionFoundJob: compile<StalledConnectionFoundJob>(
    ajv,
    'StalledConnectionFound job',
    stalledConnectionFoundJobSchema,
  ),
  connectionAcceptedJob: compile<ConnectionAcceptedJob>(
    ajv,
    'ConnectionAccepted job',
    connectionAcceptedJobSchema,
  ),
});

/** True when `value` is a GUID as Fortellis writes them. */
export function isGuid(value: string): boolean {
  return GUID_PATTERN.test(value);
}
