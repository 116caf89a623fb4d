// The operations service configuration: the only file of this service that reads process.env.
import { APPROVAL_DEFAULT_ACTION_ENV_PROPERTIES } from '@fortellis-admin/approval-rules';
import { ConfigError } from '@fortellis-admin/contracts';
import {
  deepFreeze,
  loadEnv,
  runtimeEnvProperties,
  MONGO_ENV_PROPERTIES,
  REDIS_ENV_PROPERTIES,
  redisSettingsOf,
  TRUST_PROXY_ENV_PROPERTIES,
} from '@fortellis-admin/service-kit';
import { OperatorTokenError, parseOperatorTokens } from './domain/operator-roles.ts';

/** Environment variables of the operations service, with their defaults. */
export const operationsEnvSchema = {
  type: 'object',
  required: ['OPS_API_TOKENS', 'MONGODB_URL'],
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
        'Operator tokens: comma-separated name:role=token entries (several allow rotation). Roles: metrics (GET /metrics only), viewer (read), operator (review, suspend, retry), admin (Bull Board actions, rules dry run); name=token means operator. Tokens of 32+ characters with 10+ distinct ones.',
      type: 'string',
      // The shape only; each entry's role and strength are checked by parseOperatorTokens, which
      // names the entry refused (never its token).
      pattern: '^[^,]+(,[^,]+)*$',
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
    tokens: operatorTokensOf(e.OPS_API_TOKENS),
    redis: redisSettingsOf(e),
    mongo: { url: e.MONGODB_URL, database: e.MONGODB_DATABASE },
    approval: { defaultAction: e.APPROVAL_DEFAULT_ACTION },
    logLevel: e.LOG_LEVEL,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    startupWarnings: e.startupWarnings,
  });
}

/** The operator tokens, or ConfigError naming the entry refused (never its token). */
function operatorTokensOf(list: string) {
  try {
    return parseOperatorTokens(list);
  } catch (error) {
    if (error instanceof OperatorTokenError) throw new ConfigError('OPS_API_TOKENS', error.message);
    throw error;
  }
}

export type OperationsConfig = ReturnType<typeof loadOperationsConfig>;
