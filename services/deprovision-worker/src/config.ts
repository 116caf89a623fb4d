// The deprovision worker configuration: the only file of this service that reads process.env.
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

/** Environment variables of the deprovision worker, with their defaults. */
export const deprovisionWorkerEnvSchema = {
  type: 'object',
  required: ['MONGODB_URL', 'BACKEND_DEPROVISIONER'],
  properties: {
    ...REDIS_ENV_PROPERTIES,
    ...MONGO_ENV_PROPERTIES,
    ...WORKER_ENV_PROPERTIES,
    ...monitoringEnvProperties(9465),
    BACKEND_DEPROVISIONER: {
      description:
        'http calls BACKEND_DEPROVISION_URL to clean up backend accounts; none is the explicit choice of having nothing to clean.',
      type: 'string',
      enum: ['http', 'none'],
    },
    BACKEND_DEPROVISION_URL: outsideUrlProperty(
      "The provider backend's clean-up endpoint (required with BACKEND_DEPROVISIONER=http).",
    ),
    BACKEND_DEPROVISION_SECRET: {
      description:
        'Sent as Authorization: Bearer, or in BACKEND_DEPROVISION_HEADER when that is set (secret).',
      type: 'string',
      minLength: 1,
      writeOnly: true,
    },
    BACKEND_DEPROVISION_HEADER: {
      description: 'Header carrying BACKEND_DEPROVISION_SECRET instead of Authorization.',
      type: 'string',
      pattern: '^[A-Za-z0-9-]+$',
    },
    INTEGRATION_STATUS_BASE_URL: outsideUrlProperty(
      "Integration platform's status API base; unset: deactivations are not reported.",
    ),
    INTEGRATION_STATUS_CLIENT_ID: {
      description: 'Client id for the status API token.',
      type: 'string',
      minLength: 1,
    },
    INTEGRATION_STATUS_CLIENT_SECRET: {
      description: 'Client secret for the status API token (secret).',
      type: 'string',
      minLength: 1,
      writeOnly: true,
    },
    INTEGRATION_STATUS_TENANT_ID: {
      description: 'Tenant id sent with status reports.',
      type: 'string',
      minLength: 1,
    },
    INTEGRATION_STATUS_APPLICATION_CODE: {
      description: 'application_code of the status reports.',
      type: 'string',
      minLength: 1,
    },
    INTEGRATION_STATUS_MODULE_NAME: {
      description: 'module.name of the status reports.',
      type: 'string',
      minLength: 1,
    },
    INTEGRATION_STATUS_MODULE_VERSION: {
      description: 'module.version of the status reports.',
      type: 'string',
      minLength: 1,
    },
    INTEGRATION_STATUS_VENDOR_SYSTEM_NAME: {
      description: 'vendor_system.name of the status reports.',
      type: 'string',
      minLength: 1,
    },
    INTEGRATION_STATUS_VENDOR_SYSTEM_VERSION: {
      description: 'vendor_system.version of the status reports.',
      type: 'string',
      minLength: 1,
    },
    INTEGRATION_STATUS_REPORT_ACTIVATIONS: {
      description: 'Also report accepted connections as activated integrations.',
      type: 'boolean',
      default: false,
    },
    RETRY_BACKOFF_BASE_MS: {
      description:
        'First retry delay of a failed step; each later one doubles (with jitter), up to RETRY_BACKOFF_MAX_MS.',
      type: 'integer',
      minimum: 1,
      default: 5000,
    },
    RETRY_BACKOFF_MAX_MS: {
      description: 'Longest delay between two step retries.',
      type: 'integer',
      minimum: 1,
      default: 1_800_000,
    },
    HTTP_TIMEOUT_MS: {
      description: 'Timeout of one backend or status API call.',
      type: 'integer',
      minimum: 100,
      default: 10_000,
    },
    RETRY_HORIZON_HOURS: {
      description: 'How long a failing step is retried before the job fails for good.',
      type: 'number',
      exclusiveMinimum: 0,
      default: 24,
    },
  },
  allOf: [
    {
      if: {
        type: 'object',
        properties: { BACKEND_DEPROVISIONER: { const: 'http' } },
        required: ['BACKEND_DEPROVISIONER'],
      },
      then: { required: ['BACKEND_DEPROVISION_URL'] },
    },
    {
      if: { type: 'object', required: ['INTEGRATION_STATUS_BASE_URL'] },
      then: {
        required: [
          'INTEGRATION_STATUS_CLIENT_ID',
          'INTEGRATION_STATUS_CLIENT_SECRET',
          'INTEGRATION_STATUS_APPLICATION_CODE',
          'INTEGRATION_STATUS_MODULE_NAME',
        ],
      },
    },
  ],
} as const;

/** Reads, validates and shapes the configuration. Throws ConfigError naming a bad variable. */
export function loadDeprovisionWorkerConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
) {
  const e = loadEnv(deprovisionWorkerEnvSchema, env);
  const statusBase = e.INTEGRATION_STATUS_BASE_URL;
  return deepFreeze({
    redis: redisSettingsOf(e),
    mongo: { url: e.MONGODB_URL, database: e.MONGODB_DATABASE },
    backend:
      e.BACKEND_DEPROVISIONER === 'http' && e.BACKEND_DEPROVISION_URL !== undefined
        ? {
            kind: 'http' as const,
            url: e.BACKEND_DEPROVISION_URL,
            secret: e.BACKEND_DEPROVISION_SECRET,
            header: e.BACKEND_DEPROVISION_HEADER,
          }
        : { kind: 'none' as const },
    integrationStatus:
      statusBase === undefined
        ? undefined
        : {
            baseUrl: statusBase.replace(/\/+$/, ''),
            clientId: e.INTEGRATION_STATUS_CLIENT_ID ?? '',
            clientSecret: e.INTEGRATION_STATUS_CLIENT_SECRET ?? '',
            tenantId: e.INTEGRATION_STATUS_TENANT_ID,
            applicationCode: e.INTEGRATION_STATUS_APPLICATION_CODE ?? '',
            module: {
              name: e.INTEGRATION_STATUS_MODULE_NAME ?? '',
              version: e.INTEGRATION_STATUS_MODULE_VERSION,
            },
            vendorSystem:
              e.INTEGRATION_STATUS_VENDOR_SYSTEM_NAME === undefined
                ? undefined
                : {
                    name: e.INTEGRATION_STATUS_VENDOR_SYSTEM_NAME,
                    version: e.INTEGRATION_STATUS_VENDOR_SYSTEM_VERSION,
                  },
            reportActivations: e.INTEGRATION_STATUS_REPORT_ACTIVATIONS,
          },
    worker: {
      concurrency: e.WORKER_CONCURRENCY,
      lockMs: e.WORKER_LOCK_MS,
      keepFailed: { days: e.FAILED_JOBS_KEEP_DAYS, count: e.FAILED_JOBS_KEEP_COUNT },
    },
    reconcile: { everyMs: e.RECONCILE_EVERY_MS, stalledAfterMs: e.RECONCILE_AFTER_MS },
    monitoring: { host: e.MONITORING_HOST, port: e.MONITORING_PORT },
    http: {
      timeoutMs: e.HTTP_TIMEOUT_MS,
      retryHorizonMs: Math.round(e.RETRY_HORIZON_HOURS * 3_600_000),
      backoff: { baseMs: e.RETRY_BACKOFF_BASE_MS, maxMs: e.RETRY_BACKOFF_MAX_MS },
    },
    logLevel: e.LOG_LEVEL,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    startupWarnings: e.startupWarnings,
  });
}

export type DeprovisionWorkerConfig = ReturnType<typeof loadDeprovisionWorkerConfig>;
