// Bodies we send to the outside parties (the Fortellis connection callback, the integration
// platform's status API, the provider backend's provisioning) and the provisioning answer.

/**
 * Body of `POST {subscriptionsBase}/connections/{connectionId}/callback`.
 * `error` is the reason for a rejection; `auth` passes subscription-specific credentials.
 * `rejected` may be sent after `accepted` to stop traffic.
 */
export const connectionCallbackBodySchema = {
  $id: 'https://contracts.fortellis-admin.local/connection-callback-body.json',
  type: 'object',
  required: ['status'],
  properties: {
    status: { type: 'string', enum: ['accepted', 'rejected'] },
    error: { type: 'string', minLength: 1 },
    auth: { type: 'object', additionalProperties: { type: 'string' } },
  },
  additionalProperties: false,
} as const;

const statusEventSchema = {
  type: 'object',
  required: ['category', 'action'],
  properties: {
    category: { type: 'string', minLength: 1 },
    action: { type: 'string', minLength: 1 },
    activation_event: { type: 'boolean' },
    deactivation_event: { type: 'boolean' },
  },
  additionalProperties: false,
} as const;

const nameVersionSchema = {
  type: 'object',
  required: ['name'],
  properties: { name: { type: 'string', minLength: 1 }, version: { type: 'string' } },
  additionalProperties: false,
} as const;

/**
 * Body of `POST {base}/api/integration_management/v2/status?tenantID={tenant}`.
 * Exactly one of `application_code` and `application_id`; `module.name` required;
 * `vendor_system` optional; at least one event.
 */
export const integrationStatusBodySchema = {
  $id: 'https://contracts.fortellis-admin.local/integration-status-body.json',
  type: 'object',
  required: ['module', 'events'],
  properties: {
    application_code: { type: 'string', minLength: 1 },
    application_id: { type: 'string', minLength: 1 },
    module: nameVersionSchema,
    vendor_system: nameVersionSchema,
    events: { type: 'array', minItems: 1, items: statusEventSchema },
  },
  oneOf: [{ required: ['application_code'] }, { required: ['application_id'] }],
  additionalProperties: false,
} as const;

/** The event that reports a deactivation to the integration platform. */
export const DEACTIVATION_STATUS_EVENT = Object.freeze({
  category: 'activation',
  action: 'deactivated integration',
  deactivation_event: true,
} as const);

/** The event that reports an activation to the integration platform. */
export const ACTIVATION_STATUS_EVENT = Object.freeze({
  category: 'activation',
  action: 'activated integration',
  activation_event: true,
} as const);

/** At most this many credentials per connection, each value at most this long. */
export const MAX_CREDENTIALS = 20;
export const MAX_CREDENTIAL_CHARS = 4096;

/**
 * Body of `POST BACKEND_PROVISION_URL`: the buyer's account to create for an approved connection,
 * sent with `Idempotency-Key: {connectionId}` so that a repeated call creates nothing new.
 */
export const backendProvisionRequestSchema = {
  $id: 'https://contracts.fortellis-admin.local/backend-provision-request.json',
  type: 'object',
  required: ['connectionId', 'subscriptionId', 'organization', 'apiId', 'appId', 'requestId'],
  properties: {
    connectionId: { type: 'string', minLength: 1 },
    subscriptionId: { type: 'string', minLength: 1 },
    organization: {
      type: 'object',
      required: ['id', 'name'],
      properties: { id: { type: 'string' }, name: { type: 'string' } },
      additionalProperties: false,
    },
    apiId: { type: 'string' },
    appId: { type: 'string' },
    requestId: { type: 'string' },
  },
  additionalProperties: false,
} as const;

/**
 * What the backend answers a provisioning (2xx, JSON): the account it created (or had created for
 * the same key) and the credentials to pass to the buyer's app as the callback's `auth`. Nothing
 * else: an answer with any other field, a credential that is not a string, or more than
 * {@link MAX_CREDENTIALS} credentials breaks the contract, and is neither stored nor passed on.
 */
export const backendProvisionAnswerSchema = {
  $id: 'https://contracts.fortellis-admin.local/backend-provision-answer.json',
  type: 'object',
  properties: {
    accountId: { type: 'string', minLength: 1, maxLength: 256 },
    credentials: {
      type: 'object',
      maxProperties: MAX_CREDENTIALS,
      propertyNames: { type: 'string', minLength: 1, maxLength: 128 },
      additionalProperties: { type: 'string', maxLength: MAX_CREDENTIAL_CHARS },
    },
  },
  additionalProperties: false,
} as const;
