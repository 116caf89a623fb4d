// The ingress configuration: the only file of this service that reads process.env.
import {
  deepFreeze,
  LOG_LEVELS,
  loadEnv,
  MONGO_ENV_PROPERTIES,
  REDIS_ENV_PROPERTIES,
} from '@fortellis-admin/service-kit';

/** Environment variables of the ingress, with their defaults. */
export const ingressEnvSchema = {
  type: 'object',
  required: ['REDIS_URL', 'FORTELLIS_ISSUER', 'FORTELLIS_CLIENT_ID'],
  properties: {
    HOST: {
      description: 'Address of the Fortellis-facing listener.',
      type: 'string',
      default: '0.0.0.0',
    },
    PORT: {
      description: 'Port of the Fortellis-facing listener.',
      type: 'integer',
      minimum: 0,
      maximum: 65535,
      default: 3000,
    },
    BASE_PATH: {
      description:
        "Path Fortellis' registered Admin API URL adds before /activate, e.g. /fortellis.",
      type: 'string',
      pattern: "^(/[A-Za-z0-9._~%!$&'()*+,;=:@-]+)*$",
      default: '',
    },
    PUBLIC_BASE_URL: {
      description:
        'Absolute URL under which callers reach this service; used in the links of answers.',
      type: 'string',
      pattern: '^https?://',
    },
    TRUST_PROXY: {
      description: 'Trust X-Forwarded-* headers (behind a load balancer or Ingress controller).',
      type: 'boolean',
      default: false,
    },
    ...REDIS_ENV_PROPERTIES,
    FORTELLIS_ISSUER: {
      description:
        'Issuer (iss) of Fortellis tokens, e.g. https://identity.fortellis.io/oauth2/aus1p1ixy7YL8cMq02p7.',
      type: 'string',
      pattern: '^https?://',
    },
    FORTELLIS_JWKS_URL: {
      description: 'Signing keys of Fortellis tokens; default {FORTELLIS_ISSUER}/v1/keys.',
      type: 'string',
      pattern: '^https?://',
    },
    FORTELLIS_AUDIENCE: {
      description: 'Audience (aud) Fortellis tokens must carry.',
      type: 'string',
      minLength: 1,
      default: 'api_providers',
    },
    FORTELLIS_CLIENT_ID: {
      description:
        "The provider's Fortellis client id: the sub (and cid) of genuine calls, and the callback's client.",
      type: 'string',
      minLength: 1,
    },
    LOG_LEVEL: {
      description: 'pino log level.',
      type: 'string',
      enum: LOG_LEVELS,
      default: 'info',
    },
    SHUTDOWN_TIMEOUT_MS: {
      description: 'On SIGTERM, how long in-flight work may take before the process exits anyway.',
      type: 'integer',
      minimum: 1000,
      default: 10_000,
    },
    OPS_HOST: {
      description:
        'Address of the operations listener (Bull Board, ops API, /metrics); default HOST. Never the Fortellis-facing port.',
      type: 'string',
      minLength: 1,
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
        'Operator tokens, name=token pairs separated by commas (several allow rotation), tokens of 24+ characters. Unset: no operations listener.',
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
