// The Fortellis Admin API contract: the activate request we receive and the answers we give.
import { guidSchema, linkSchema } from './common-schemas.ts';

/**
 * Upper bounds of the free-text members the approval rules match on, so that no rule's pattern
 * ever runs on an unbounded string. Generous: an email is at most 320 characters (RFC 5321: 64 +
 * `@` + 255), a country code is a few letters, an API id a short slug. The ids a rule can match
 * besides these are GUIDs, bounded by their format.
 */
export const ACTIVATION_FIELD_MAX_LENGTHS = Object.freeze({
  apiId: 256,
  countryCode: 64,
  email: 320,
} as const);

/** `organizationInfo`: the buyer's organization. `countryCode` is optional. */
const organizationInfoSchema = {
  type: 'object',
  required: ['id', 'name', 'address', 'phoneNumber'],
  properties: {
    id: guidSchema,
    name: { type: 'string' },
    address: { type: 'string' },
    phoneNumber: { type: 'string' },
    countryCode: { type: 'string', maxLength: ACTIVATION_FIELD_MAX_LENGTHS.countryCode },
  },
} as const;

/** `appInfo`: the app that subscribes to the provider's API. */
const appInfoSchema = {
  type: 'object',
  required: ['id', 'name', 'developer', 'contactEmail', 'appOrgId'],
  properties: {
    id: guidSchema,
    name: { type: 'string' },
    developer: { type: 'string' },
    contactEmail: { type: 'string' },
    appOrgId: guidSchema,
  },
} as const;

/**
 * The body of `POST /activate`, exactly as Fortellis sends it.
 *
 * All six top-level members are required. Ids are GUIDs except `apiInfo.id`, which is free text
 * (`v1-appointments`). `entityInfo` and `solutionInfo` were dropped by Fortellis in September 2022:
 * they are accepted when present and never required. Unknown extra members are tolerated at every
 * level, because Fortellis adds fields without notice and a rejected activation is lost for good.
 */
export const activateRequestSchema = {
  $id: 'https://contracts.fortellis-admin.local/activate-request.json',
  type: 'object',
  required: [
    'organizationInfo',
    'appInfo',
    'userInfo',
    'apiInfo',
    'subscriptionId',
    'connectionId',
  ],
  properties: {
    organizationInfo: organizationInfoSchema,
    appInfo: appInfoSchema,
    userInfo: {
      type: 'object',
      required: ['fortellisId'],
      properties: {
        fortellisId: {
          type: 'string',
          format: 'email',
          maxLength: ACTIVATION_FIELD_MAX_LENGTHS.email,
        },
      },
    },
    apiInfo: {
      type: 'object',
      required: ['id', 'name', 'implementationName'],
      properties: {
        id: { type: 'string', minLength: 1, maxLength: ACTIVATION_FIELD_MAX_LENGTHS.apiId },
        name: { type: 'string' },
        implementationName: { type: 'string' },
      },
    },
    subscriptionId: guidSchema,
    connectionId: guidSchema,
    entityInfo: { type: 'object' },
    solutionInfo: { type: 'object' },
  },
} as const;

/** The 200 answer to `/activate` and `/deactivate/{connectionId}`: `{ links: [...] }`. */
export const linksResponseSchema = {
  $id: 'https://contracts.fortellis-admin.local/links-response.json',
  type: 'object',
  required: ['links'],
  properties: { links: { type: 'array', items: linkSchema } },
  additionalProperties: false,
} as const;

/**
 * The error answer of the Admin API (400, 403, and ours: 404, 413, 503; the operations service may also answer 415): `{ code, message }`
 * as Fortellis specifies, plus `error`, the stable string code of the problem (see ERROR_CODES),
 * so a caller can tell two different 400s apart without parsing the message.
 */
export const errorResponseSchema = {
  $id: 'https://contracts.fortellis-admin.local/error-response.json',
  type: 'object',
  required: ['code', 'message'],
  properties: {
    code: { type: 'integer', minimum: 100, maximum: 599 },
    message: { type: 'string', minLength: 1 },
    error: { type: 'string', pattern: '^[A-Z][A-Z_]*$' },
  },
  additionalProperties: false,
} as const;
