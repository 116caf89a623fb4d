// The ingress configuration: the only file of this service that reads process.env.
import {
  deepFreeze,
  loadEnv,
  runtimeEnvProperties,
  ACK_DURABILITIES,
  monitoringEnvProperties,
  outsideUrlProperty,
  REDIS_ENV_PROPERTIES,
  redisSettingsOf,
  TRUST_PROXY_ENV_PROPERTIES,
} from '@fortellis-admin/service-kit';

const MONITORING_ENV_PROPERTIES = monitoringEnvProperties(9463);

/** Environment variables of the ingress, with their defaults. */
export const ingressEnvSchema = {
  type: 'object',
  required: ['FORTELLIS_ISSUER', 'FORTELLIS_CLIENT_ID'],
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
    ...TRUST_PROXY_ENV_PROPERTIES,
    SHUTDOWN_DRAIN_MS: {
      description:
        'On SIGTERM, how long the ingress keeps serving with /ready answering 503 before it stops accepting calls, so the load balancer stops sending first. Part of SHUTDOWN_TIMEOUT_MS.',
      type: 'integer',
      minimum: 0,
      default: 3000,
    },
    ...REDIS_ENV_PROPERTIES,
    ACK_DURABILITY: {
      description:
        'What Redis must guarantee before a call is acknowledged: fsync (Redis runs appendonly yes and appendfsync always, checked on every connection; calls are refused otherwise) or none (development and benchmarks only: a Redis crash may lose acknowledged calls).',
      type: 'string',
      enum: ACK_DURABILITIES,
      default: 'fsync',
    },
    PUBLISH_HOLD_MS: {
      description:
        'How long a call may wait for Redis (an outage, a failover, a stall) before it is refused with 503; a refused call never takes effect.',
      type: 'integer',
      minimum: 1000,
      maximum: 60_000,
      default: 10_000,
    },
    FORTELLIS_ISSUER: outsideUrlProperty(
      'Issuer (iss) of Fortellis tokens, e.g. https://identity.fortellis.io/oauth2/aus1p1ixy7YL8cMq02p7.',
    ),
    FORTELLIS_JWKS_URL: outsideUrlProperty(
      'Signing keys of Fortellis tokens; default {FORTELLIS_ISSUER}/v1/keys.',
    ),
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
    // Longer than PUBLISH_HOLD_MS's default, so that calls held for Redis are answered.
    ...runtimeEnvProperties(15_000),
    // The ingress's own listener for /health, /ready and /metrics, never the Fortellis-facing port.
    MONITORING_HOST: {
      ...MONITORING_ENV_PROPERTIES.MONITORING_HOST,
      description: "Address of the service's own listener for /health, /ready and /metrics.",
    },
    MONITORING_PORT: {
      ...MONITORING_ENV_PROPERTIES.MONITORING_PORT,
      description:
        "Port of the service's own listener for /health, /ready and /metrics; 0 picks a free port.",
    },
  },
} as const;

/** Reads, validates and shapes the ingress configuration. Throws ConfigError naming a bad variable. */
export function loadIngressConfig(env: Readonly<Record<string, string | undefined>> = process.env) {
  const e = loadEnv(ingressEnvSchema, env);
  return deepFreeze({
    http: {
      host: e.HOST,
      port: e.PORT,
      drainMs: e.SHUTDOWN_DRAIN_MS,
      basePath: e.BASE_PATH,
      publicBaseUrl: e.PUBLIC_BASE_URL,
      trustProxy: e.TRUST_PROXY,
    },
    redis: redisSettingsOf(e),
    acknowledgement: {
      durability: e.ACK_DURABILITY,
      holdMs: e.PUBLISH_HOLD_MS,
      replicas: e.ACK_REPLICAS,
    },
    fortellis: {
      issuer: e.FORTELLIS_ISSUER,
      jwksUrl: e.FORTELLIS_JWKS_URL ?? `${e.FORTELLIS_ISSUER.replace(/\/+$/, '')}/v1/keys`,
      audience: e.FORTELLIS_AUDIENCE,
      clientId: e.FORTELLIS_CLIENT_ID,
    },
    monitoring: { host: e.MONITORING_HOST, port: e.MONITORING_PORT },
    logLevel: e.LOG_LEVEL,
    shutdownTimeoutMs: e.SHUTDOWN_TIMEOUT_MS,
    startupWarnings: e.startupWarnings,
  });
}

export type IngressConfig = ReturnType<typeof loadIngressConfig>;
