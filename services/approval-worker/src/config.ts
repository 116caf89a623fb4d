// The approval worker configuration: the only file of this service that reads process.env.
import {
  deepFreeze,
  loadEnv,
  MONGO_ENV_PROPERTIES,
  REDIS_ENV_PROPERTIES,
  redisSettingsOf,
  WORKER_ENV_PROPERTIES,
  monitoringEnvProperties,
  outsideUrlProperty,
} from '@fortellis-admin/service-kit';
import { APPROVAL_DEFAULT_ACTION_ENV_PROPERTIES } from '@fortellis-admin/approval-rules';
import { parseCredentialsKeys } from './domain/credential-seal.ts';

/** Environment variables of the approval worker, with their defaults. */
export const approvalWorkerEnvSchema = {
  type: 'object',
  required: [
    'MONGODB_URL',
    'FORTELLIS_CALLBACK_BASE_URL',
    'FORTELLIS_TOKEN_URL',
    'FORTELLIS_CLIENT_ID',
    'FORTELLIS_CLIENT_SECRET',
  ],
  properties: {
    ...REDIS_ENV_PROPERTIES,
    ...MONGO_ENV_PROPERTIES,
    ...WORKER_ENV_PROPERTIES,
    ...monitoringEnvProperties(9464),
    FORTELLIS_CALLBACK_BASE_URL: outsideUrlProperty(
      'Fortellis subscriptions base of the connection callback, e.g. https://subscriptions.fortellis.io.',
    ),
    FORTELLIS_TOKEN_URL: outsideUrlProperty(
      'Client-credentials token endpoint for the callback, e.g. {FORTELLIS_ISSUER}/v1/token.',
    ),
    FORTELLIS_CLIENT_ID: {
      description:
        "The provider's Fortellis client id: the sub (and cid) of genuine calls, and the callback's client.",
      type: 'string',
      minLength: 1,
    },
    FORTELLIS_CLIENT_SECRET: {
      description: "The provider's Fortellis client secret (secret).",
      type: 'string',
      minLength: 1,
      writeOnly: true,
    },
    APPROVAL_RULES_FILE: {
      description:
        'JSON or YAML file of approval rules (README, "Approval rules"; check one with npm run rules:check); without it every connection gets APPROVAL_DEFAULT_ACTION.',
      type: 'string',
      minLength: 1,
    },
    ...APPROVAL_DEFAULT_ACTION_ENV_PROPERTIES,
    BACKEND_PROVISIONER: {
      description:
        "http calls BACKEND_PROVISION_URL to create the buyer's account before the accepted callback, and sends the credentials it answers as the callback's auth; none provisions nothing.",
      type: 'string',
      enum: ['http', 'none'],
      default: 'none',
    },
    BACKEND_PROVISION_URL: outsideUrlProperty(
      "The provider backend's provisioning endpoint (required with BACKEND_PROVISIONER=http).",
    ),
    BACKEND_PROVISION_SECRET: {
      description:
        'Sent as Authorization: Bearer, or in BACKEND_PROVISION_HEADER when that is set (secret).',
      type: 'string',
      minLength: 1,
      writeOnly: true,
    },
    BACKEND_PROVISION_HEADER: {
      description: 'Header carrying BACKEND_PROVISION_SECRET instead of Authorization.',
      type: 'string',
      pattern: '^[A-Za-z0-9-]+$',
    },
    BACKEND_PROVISION_TIMEOUT_MS: {
      description: 'Timeout of one provisioning call.',
      type: 'integer',
      minimum: 100,
      default: 10_000,
    },
    PROVISIONING_CREDENTIALS_KEY: {
      description:
        'AES-256 key (32 bytes, base64: openssl rand -base64 32) sealing the credentials a backend answers while they wait for the callback (required with BACKEND_PROVISIONER=http; secret). Several, separated by commas, for a rotation: the first seals, each opens what it sealed.',
      type: 'string',
      minLength: 1,
      writeOnly: true,
    },
    CALLBACK_TIMEOUT_MS: {
      description: 'Timeout of one connection-callback call.',
      type: 'integer',
      minimum: 100,
      default: 10_000,
    },
    CALLBACK_RETRY_HORIZON_HOURS: {
      description:
        'How long a failing callback is retried before the connection is callback_failed.',
      type: 'number',
      exclusiveMinimum: 0,
      default: 24,
    },
    CALLBACK_RATE_LIMIT_PER_SECOND: {
      description: 'Callback calls per second, across all workers.',
      type: 'integer',
      minimum: 1,
      default: 20,
    },
    CALLBACK_BACKOFF_BASE_MS: {
      description:
        'First callback retry delay; each later one doubles (with jitter), up to CALLBACK_BACKOFF_MAX_MS.',
      type: 'integer',
      minimum: 1,
      default: 5000,
    },
    CALLBACK_BACKOFF_MAX_MS: {
      description: 'Longest delay between two callback retries.',
      type: 'integer',
      minimum: 1,
      default: 1_800_000,
    },
  },
  allOf: [
    {
      if: {
        properties: { BACKEND_PROVISIONER: { const: 'http' } },
        required: ['BACKEND_PROVISIONER'],
      },
      then: { required: ['BACKEND_PROVISION_URL', 'PROVISIONING_CREDENTIALS_KEY'] },
    },
  ],
} as const;

/** Reads, validates and shapes the configuration. Throws ConfigError naming a bad variable. */
export function loadApprovalWorkerConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
) {
  const e = loadEnv(approvalWorkerEnvSchema, env);
  return deepFreeze({
    redis: redisSettingsOf(e),
    mongo: { url: e.MONGODB_URL, database: e.MONGODB_DATABASE },
    fortellis: {
      callbackBaseUrl: e.FORTELLIS_CALLBACK_BASE_URL.replace(/\/+$/, ''),
      tokenUrl: e.FORTELLIS_TOKEN_URL,
      clientId: e.FORTELLIS_CLIENT_ID,
      clientSecret: e.FORTELLIS_CLIENT_SECRET,
    },
    approval: { rulesFile: e.APPROVAL_RULES_FILE, defaultAction: e.APPROVAL_DEFAULT_ACTION },
    provisioning:
      e.BACKEND_PROVISIONER === 'http' &&
      e.BACKEND_PROVISION_URL !== undefined &&
      e.PROVISIONING_CREDENTIALS_KEY !== undefined
        ? {
            kind: 'http' as const,
            url: e.BACKEND_PROVISION_URL,
            secret: e.BACKEND_PROVISION_SECRET,
            header: e.BACKEND_PROVISION_HEADER,
            timeoutMs: e.BACKEND_PROVISION_TIMEOUT_MS,
            // Checked here, so a bad key stops start-up; parsed again where it is used (a Buffer
            // cannot be frozen with the rest of the configuration).
            credentialsKey: checkedKey(e.PROVISIONING_CREDENTIALS_KEY),
          }
        : { kind: 'none' as const },
    worker: {
      concurrency: e.WORKER_CONCURRENCY,
      lockMs: e.WORKER_LOCK_MS,
      keepFailed: { days: e.FAILED_JOBS_KEEP_DAYS, count: e.FAILED_JOBS_KEEP_COUNT },
    },
    reconcile: { everyMs: e.RECONCILE_EVERY_MS, stalledAfterMs: e.RECONCILE_AFTER_MS },
    monitoring: { host: e.MONITORING_HOST, port: e.MONITORING_PORT },
    callback: {
      timeoutMs: e.CALLBACK_TIMEOUT_MS,
      retryHorizonMs: Math.round(e.CALLBACK_RETRY_HORIZON_HOURS * 3_600_000),
      ratePerSecond: e.CALLBACK_RATE_LIMIT_PER_SECOND,
      backoff: { baseMs: e.CALLBACK_BACKOFF_BASE_MS, maxMs: e.CALLBACK_BACKOFF_MAX_MS },
    },
    logLevel: e.LOG_LEVEL,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    startupWarnings: e.startupWarnings,
  });
}

function checkedKey(text: string): string {
  parseCredentialsKeys(text);
  return text.trim();
}

export type ApprovalWorkerConfig = ReturnType<typeof loadApprovalWorkerConfig>;
