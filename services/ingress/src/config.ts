// The ingress configuration: the only file of this service that reads process.env.
import {
  deepFreeze,
  LOG_LEVELS,
  loadEnv,
  MONGO_ENV_PROPERTIES,
  REDIS_ENV_PROPERTIES,
} from '@fortellis-admin/contracts';

/** Environment variables of the ingress, with their defaults. */
export const ingressEnvSchema = {
  type: 'object',
  required: ['REDIS_URL', 'FORTELLIS_ISSUER', 'FORTELLIS_CLIENT_ID'],
  properties: {
    HOST: { type: 'string', default: '0.0.0.0' },
    PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 3000 },
    /** Path Fortellis' registered Admin API URL adds before /activate, e.g. `/fortellis`. */
    BASE_PATH: { type: 'string', pattern: "^(/[A-Za-z0-9._~%!$&'()*+,;=:@-]+)*$", default: '' },
    /** Absolute URL under which callers reach this service; used in the links of answers. */
    PUBLIC_BASE_URL: { type: 'string', pattern: '^https?://' },
    TRUST_PROXY: { type: 'boolean', default: false },
    ...REDIS_ENV_PROPERTIES,
    FORTELLIS_ISSUER: { type: 'string', pattern: '^https?://' },
    FORTELLIS_JWKS_URL: { type: 'string', pattern: '^https?://' },
    FORTELLIS_AUDIENCE: { type: 'string', minLength: 1, default: 'api_providers' },
    FORTELLIS_CLIENT_ID: { type: 'string', minLength: 1 },
    LOG_LEVEL: { type: 'string', enum: LOG_LEVELS, default: 'info' },
    SHUTDOWN_TIMEOUT_MS: { type: 'integer', minimum: 1000, default: 10_000 },
    /** Address of the operations listener; defaults to HOST. Never the Fortellis-facing port. */
    OPS_HOST: { type: 'string', minLength: 1 },
    OPS_PORT: { type: 'integer', minimum: 0, maximum: 65535, default: 3001 },
    /**
     * Operator tokens, `name=token` pairs separated by commas (several allow rotation); tokens of
     * at least 24 characters. Without it the operations listener is not started.
     */
    OPS_API_TOKENS: {
      type: 'string',
      pattern: '^[A-Za-z0-9_.-]+=[^,=\\s]{24,}(,[A-Za-z0-9_.-]+=[^,=\\s]{24,})*$',
      writeOnly: true,
    },
    ...MONGO_ENV_PROPERTIES,
  },
  // The operations API reads the connections the workers keep in MongoDB.
  if: { type: 'object', required: ['OPS_API_TOKENS'] },
  then: { required: ['MONGODB_URL'] },
} as const;

/** Reads, validates and shapes the ingress configuration. Throws ConfigError naming a bad variable. */
export function loadIngressConfig(env: Readonly<Record<string, string | undefined>> = process.env) {
  const e = loadEnv(ingressEnvSchema, env);
  return deepFreeze({
    http: {
      host: e.HOST,
      port: e.PORT,
      basePath: e.BASE_PATH,
      publicBaseUrl: e.PUBLIC_BASE_URL,
      trustProxy: e.TRUST_PROXY,
    },
    redis: { url: e.REDIS_URL, queuePrefix: e.QUEUE_PREFIX },
    fortellis: {
      issuer: e.FORTELLIS_ISSUER,
      jwksUrl: e.FORTELLIS_JWKS_URL ?? `${e.FORTELLIS_ISSUER.replace(/\/+$/, '')}/v1/keys`,
      audience: e.FORTELLIS_AUDIENCE,
      clientId: e.FORTELLIS_CLIENT_ID,
    },
    ops:
      e.OPS_API_TOKENS === undefined
        ? undefined
        : {
            host: e.OPS_HOST ?? e.HOST,
            port: e.OPS_PORT,
            tokens: e.OPS_API_TOKENS.split(',').map((pair) => {
              const at = pair.indexOf('=');
              return { name: pair.slice(0, at), token: pair.slice(at + 1) };
            }),
            mongo: { url: e.MONGODB_URL ?? '', database: e.MONGODB_DATABASE },
          },
    logLevel: e.LOG_LEVEL,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
  });
}

export type IngressConfig = ReturnType<typeof loadIngressConfig>;
