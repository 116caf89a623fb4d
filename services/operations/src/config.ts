// The operations service configuration: the only file of this service that reads process.env.
import { APPROVAL_DEFAULT_ACTION_ENV_PROPERTIES } from '@fortellis-admin/approval-rules';
import {
  deepFreeze,
  loadEnv,
  runtimeEnvProperties,
  MONGO_ENV_PROPERTIES,
  REDIS_ENV_PROPERTIES,
  TRUST_PROXY_ENV_PROPERTIES,
} from '@fortellis-admin/service-kit';

/** Environment variables of the operations service, with their defaults. */
export const operationsEnvSchema = {
  type: 'object',
  required: ['OPS_API_TOKENS', 'REDIS_URL', 'MONGODB_URL'],
  properties: {
    OPS_HOST: {
      description:
        'Address of the operations listener (Bull Board, ops API, /metrics). Never the Fortellis-facing port.',
      type: 'string',
      minLength: 1,
      default: '0.0.0.0',
    },
    OPS_PORT: {
      description: 'Port of the operations listener.',
      type: 'integer',
      minimum: 0,
      maximum: 65535,
      default: 3001,
    },
    OPS_API_TOKENS: {
      description:
        'Operator tokens, name=token pairs separated by commas (several allow rotation), tokens of 24+ characters.',
      type: 'string',
      pattern: '^[A-Za-z0-9_.-]+=[^,=\\s]{24,}(,[A-Za-z0-9_.-]+=[^,=\\s]{24,})*$',
      writeOnly: true,
    },
    // Behind TLS termination: https comes from X-Forwarded-Proto, so the login cookie is Secure.
    ...TRUST_PROXY_ENV_PROPERTIES,
    ...REDIS_ENV_PROPERTIES,
    // The operations API reads the connections the workers keep in MongoDB.
    ...MONGO_ENV_PROPERTIES,
    // The dry run of a rules file (POST /ops/rules/check) assumes the worker's default action.
    ...APPROVAL_DEFAULT_ACTION_ENV_PROPERTIES,
    ...runtimeEnvProperties(10_000),
  },
} as const;

/**
 * Reads, validates and shapes the operations configuration. Throws ConfigError naming a bad
 * variable.
 */
export function loadOperationsConfig(
  env: Readonly<Record<string, string | undefined>> = process.env,
) {
  const e = loadEnv(operationsEnvSchema, env);
  return deepFreeze({
    http: { host: e.OPS_HOST, port: e.OPS_PORT, trustProxy: e.TRUST_PROXY },
    tokens: e.OPS_API_TOKENS.split(',').map((pair) => {
      const at = pair.indexOf('=');
      return { name: pair.slice(0, at), token: pair.slice(at + 1) };
    }),
    redis: { url: e.REDIS_URL, queuePrefix: e.QUEUE_PREFIX },
    mongo: { url: e.MONGODB_URL, database: e.MONGODB_DATABASE },
    approval: { defaultAction: e.APPROVAL_DEFAULT_ACTION },
    logLevel: e.LOG_LEVEL,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
  });
}

export type OperationsConfig = ReturnType<typeof loadOperationsConfig>;
