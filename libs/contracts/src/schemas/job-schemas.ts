// Payloads of every job on the queues. Producers validate before publishing; consumers validate
// again after consuming, because a queue is a boundary too.
import { activateRequestSchema } from './admin-api-schemas.ts';
import { guidSchema, instantSchema, requestIdSchema } from './common-schemas.ts';

/** What the ingress learned from the verified bearer token: enough to audit, never the token. */
const verifiedTokenSchema = {
  type: 'object',
  required: ['jti', 'sub'],
  properties: { jti: { type: 'string' }, sub: { type: 'string' } },
  additionalProperties: false,
} as const;

/** `ActivationReceived`: Fortellis called `POST /activate` and the ingress acknowledged it. */
export const activationReceivedJobSchema = {
  $id: 'https://contracts.fortellis-admin.local/jobs/activation-received.json',
  type: 'object',
  required: ['activation', 'requestId', 'receivedAt', 'token'],
  properties: {
    activation: activateRequestSchema,
    requestId: requestIdSchema,
    receivedAt: instantSchema,
    token: verifiedTokenSchema,
  },
  additionalProperties: false,
} as const;

/** `DeactivationReceived`: Fortellis called `POST /deactivate/{connectionId}`. */
export const deactivationReceivedJobSchema = {
  $id: 'https://contracts.fortellis-admin.local/jobs/deactivation-received.json',
  type: 'object',
  required: ['connectionId', 'requestId', 'receivedAt', 'token'],
  properties: {
    connectionId: guidSchema,
    requestId: requestIdSchema,
    receivedAt: instantSchema,
    token: verifiedTokenSchema,
  },
  additionalProperties: false,
} as const;

/**
 * `ReviewDecided`: an operator decided a connection held in `pending_review`.
 * `reason` is required for `reject` (it becomes the callback's `error`).
 */
export const reviewDecidedJobSchema = {
  $id: 'https://contracts.fortellis-admin.local/jobs/review-decided.json',
  type: 'object',
  required: ['connectionId', 'action', 'actor', 'decidedAt', 'requestId'],
  properties: {
    connectionId: guidSchema,
    action: { type: 'string', enum: ['approve', 'reject'] },
    reason: { type: 'string', minLength: 1, maxLength: 500 },
    actor: { type: 'string', minLength: 1, maxLength: 200 },
    decidedAt: instantSchema,
    requestId: requestIdSchema,
  },
  if: { properties: { action: { const: 'reject' } } },
  then: { required: ['reason'] },
  additionalProperties: false,
} as const;

/**
 * `SuspensionRequested`: an operator stopped traffic for an accepted connection. The approval
 * worker sends Fortellis `rejected` with `reason` as its `error`.
 */
export const suspensionRequestedJobSchema = {
  $id: 'https://contracts.fortellis-admin.local/jobs/suspension-requested.json',
  type: 'object',
  required: ['connectionId', 'reason', 'actor', 'requestedAt', 'requestId'],
  properties: {
    connectionId: guidSchema,
    reason: { type: 'string', minLength: 1, maxLength: 500 },
    actor: { type: 'string', minLength: 1, maxLength: 200 },
    requestedAt: instantSchema,
    requestId: requestIdSchema,
  },
  additionalProperties: false,
} as const;

/**
 * `ConnectionAccepted`: Fortellis acknowledged our `accepted` callback. Published by the approval
 * worker for the deprovision worker, which reports `activated integration` when configured to.
 */
export const connectionAcceptedJobSchema = {
  $id: 'https://contracts.fortellis-admin.local/jobs/connection-accepted.json',
  type: 'object',
  required: ['connectionId', 'subscriptionId', 'acceptedAt', 'requestId'],
  properties: {
    connectionId: guidSchema,
    subscriptionId: guidSchema,
    acceptedAt: instantSchema,
    requestId: requestIdSchema,
  },
  additionalProperties: false,
} as const;

/**
 * `RetryRequested`: an operator asked to run a failed step again: the callback (approval queue)
 * or the deprovision steps that failed (deprovision queue).
 */
export const retryRequestedJobSchema = {
  $id: 'https://contracts.fortellis-admin.local/jobs/retry-requested.json',
  type: 'object',
  required: ['connectionId', 'actor', 'requestedAt', 'requestId'],
  properties: {
    connectionId: guidSchema,
    actor: { type: 'string', minLength: 1, maxLength: 200 },
    requestedAt: instantSchema,
    requestId: requestIdSchema,
  },
  additionalProperties: false,
} as const;

/**
 * `StalledConnectionFound`: the reconciler found a connection whose state needs work (a decision,
 * a callback, an announcement, deprovision steps) with no live job to do it. Published by each
 * worker on its own queue for itself.
 */
export const stalledConnectionFoundJobSchema = {
  $id: 'https://contracts.fortellis-admin.local/jobs/stalled-connection-found.json',
  type: 'object',
  required: ['connectionId', 'state', 'version', 'foundAt'],
  properties: {
    connectionId: guidSchema,
    state: { type: 'string', minLength: 1, maxLength: 40 },
    version: { type: 'integer', minimum: 0 },
    foundAt: instantSchema,
  },
  additionalProperties: false,
} as const;
