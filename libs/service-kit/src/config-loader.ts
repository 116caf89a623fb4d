// The one configuration loader: environment variables in, a validated, frozen object out.
import type { FromSchema, JSONSchema } from 'json-schema-to-ts';
import type { ErrorObject } from 'ajv';
import { ConfigError, createAjv, DEFAULT_QUEUE_PREFIX } from '@fortellis-admin/contracts';
import { LOG_LEVELS } from './logger.ts';
import {
  checkProductionSettings,
  OUTSIDE_URL_KEYWORD,
  PRODUCTION_GUARD_ENV_PROPERTIES,
  type StartupWarning,
} from './production-guard.ts';
import { redactUrlCredentials } from './url-redaction.ts';
import { REDIS_NODE_LIST_PATTERN } from './redis-settings.ts';

/**
 * The JSON Schema of a service's environment: one property per variable, each a string, integer,
 * number or boolean (with `enum`, `pattern`, `minimum`... as needed). Values are coerced from
 * strings; `default` fills absent variables. Mark secrets `writeOnly: true` so that an error
 * never echoes their value (other values are echoed with any URL's user:password redacted). Mark
 * the URLs of outside parties with `x-outside-url` ({@link outsideUrlProperty}): https: in
 * production.
 */
export type EnvSchema = JSONSchema & {
  readonly type: 'object';
  readonly properties: Readonly<Record<string, JSONSchema>>;
};

/**
 * The typed result of {@link loadEnv}: what the schema describes, read-only, plus (not enumerable)
 * the warnings start-up logs about what an ALLOW_* setting let through in production.
 */
export type EnvOf<S extends EnvSchema> = Readonly<FromSchema<S>> & {
  readonly startupWarnings: readonly StartupWarning[];
};

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads the variables named by `schema` from `env`, coerces and validates them.
 * Empty strings count as absent, so `FOO=` falls back to the default or fails as missing.
 * Throws {@link ConfigError} naming the first offending variable and what is wrong with it. With
 * NODE_ENV=production, also refuses http: outside URLs and the simulator's published values
 * (production-guard.ts), whatever the schema lists.
 */
export function loadEnv<const S extends EnvSchema>(schema: S, env: Env): EnvOf<S> {
  const properties = schema.properties as Record<string, { writeOnly?: boolean }>;
  const picked: Record<string, string> = {};
  for (const name of Object.keys(properties)) {
    const value = env[name];
    if (value !== undefined && value.trim() !== '') picked[name] = value.trim();
  }
  const plainSchema: object = schema;
  const ajv = createAjv({ coerceTypes: true, useDefaults: true });
  // An annotation only: checkProductionSettings reads it.
  ajv.addKeyword({ keyword: OUTSIDE_URL_KEYWORD, schemaType: 'boolean' });
  const validate = ajv.compile(plainSchema);
  if (!validate(picked)) {
    const error = (validate.errors ?? [])[0];
    throw describe(error, properties, env);
  }
  // ajv has coerced and defaulted `picked` in place to what the schema describes.
  const startupWarnings = checkProductionSettings(
    schema.properties as Readonly<Record<string, Readonly<Record<string, unknown>>>>,
    picked,
    env,
  );
  Object.defineProperty(picked, 'startupWarnings', { value: Object.freeze(startupWarnings) });
  const loaded: unknown = Object.freeze(picked);
  return loaded as EnvOf<S>;
}

function describe(
  error: ErrorObject | undefined,
  properties: Record<string, { writeOnly?: boolean }>,
  env: Env,
): ConfigError {
  if (error === undefined) return new ConfigError('(environment)', 'is invalid');
  if (error.keyword === 'required') {
    const name = (error.params as { missingProperty: string }).missingProperty;
    return new ConfigError(name, 'is required but not set');
  }
  const name = error.instancePath.replace(/^\//, '');
  const secret = properties[name]?.writeOnly === true;
  const raw = redactUrlCredentials(env[name]?.trim() ?? '');
  // A value that still holds an `@` may be credentials in a shape the redaction does not know.
  const shown =
    secret || raw.replaceAll('[redacted]@', '').includes('@')
      ? ''
      : ` (got ${JSON.stringify(raw.length > 60 ? `${raw.slice(0, 60)}…` : raw)})`;
  const allowed =
    error.keyword === 'enum'
      ? `must be one of ${(error.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`
      : (error.message ?? 'is invalid');
  return new ConfigError(name, `${allowed}${shown}`);
}

/** Freezes an object and everything inside it, so configuration cannot drift after start-up. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) deepFreeze(inner);
    Object.freeze(value);
  }
  return value;
}

/**
 * Redis settings every service shares: where Redis is (exactly one of REDIS_URL, REDIS_SENTINELS
 * with REDIS_SENTINEL_MASTER, or REDIS_CLUSTER_NODES: {@link redisSettingsOf} checks it) and the
 * key prefix of the queues.
 */
export const REDIS_ENV_PROPERTIES = {
  REDIS_URL: {
    description:
      'Redis holding the BullMQ queues, e.g. redis://redis:6379 (rediss:// for TLS). Needs maxmemory-policy noeviction. Exactly one of REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES.',
    type: 'string',
    pattern: '^rediss?://',
  },
  REDIS_SENTINELS: {
    description:
      'Redis behind Sentinel: the Sentinels, host:port,host:port,... (with REDIS_SENTINEL_MASTER). Clients follow a failover without a restart.',
    type: 'string',
    pattern: REDIS_NODE_LIST_PATTERN,
  },
  REDIS_SENTINEL_MASTER: {
    description: 'With REDIS_SENTINELS: the name of the master the Sentinels monitor.',
    type: 'string',
    pattern: '^[A-Za-z0-9_.-]+$',
  },
  REDIS_SENTINEL_PASSWORD: {
    description:
      "With REDIS_SENTINELS: the Sentinels' own password (requirepass of the Sentinels), if they have one.",
    type: 'string',
    minLength: 1,
    writeOnly: true,
  },
  REDIS_CLUSTER_NODES: {
    description:
      'Redis Cluster: some of its nodes, host:port,... (the rest are discovered). Keys then start with the hash tag {QUEUE_PREFIX}, so they live in one slot.',
    type: 'string',
    pattern: REDIS_NODE_LIST_PATTERN,
  },
  REDIS_USERNAME: {
    description:
      'With REDIS_SENTINELS or REDIS_CLUSTER_NODES: the Redis (ACL) user of the data nodes (with REDIS_URL it goes in the URL).',
    type: 'string',
    minLength: 1,
  },
  REDIS_PASSWORD: {
    description:
      "With REDIS_SENTINELS or REDIS_CLUSTER_NODES: the data nodes' password (with REDIS_URL it goes in the URL).",
    type: 'string',
    minLength: 1,
    writeOnly: true,
  },
  REDIS_TLS: {
    description:
      'With REDIS_SENTINELS or REDIS_CLUSTER_NODES: TLS to the data nodes (and to the Sentinels), as rediss:// does for REDIS_URL.',
    type: 'boolean',
    default: false,
  },
  ACK_REPLICAS: {
    description:
      "How many Redis replicas must hold a write before it is relied on (Redis WAIT), so that it survives the loss of the primary: the ingress answers 200 only once they hold the call's job; the workers and the operations service count a connection's lock, a call's recorded end or an attempt marked abandoned only once they hold it. 0 (the default) waits for none; set the same value on every service.",
    type: 'integer',
    minimum: 0,
    maximum: 16,
    default: 0,
  },
  QUEUE_PREFIX: {
    description: 'Key prefix of the BullMQ queues; the same on every service of one system.',
    type: 'string',
    pattern: '^[A-Za-z0-9_.-]+$',
    default: DEFAULT_QUEUE_PREFIX,
  },
} as const;

/** MongoDB settings both workers share. */
export const MONGO_ENV_PROPERTIES = {
  MONGODB_URL: {
    description: 'MongoDB holding the connections, e.g. mongodb://mongo:27017/?replicaSet=rs0.',
    type: 'string',
    pattern: '^mongodb(\\+srv)?://',
  },
  MONGODB_DATABASE: {
    description: 'Database of the connections collection.',
    type: 'string',
    pattern: '^[A-Za-z0-9_-]{1,63}$',
    default: 'fortellis_admin',
  },
} as const;

/**
 * Settings every service has: its log level, how long a clean stop may take (per service), and the
 * production checks' settings.
 */
export function runtimeEnvProperties<const Ms extends number>(shutdownTimeoutMs: Ms) {
  return {
    ...PRODUCTION_GUARD_ENV_PROPERTIES,
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
      default: shutdownTimeoutMs,
    },
  } as const;
}

/** Settings of a queue worker process: concurrency, job lock, logging, shutdown bound. */
export const WORKER_ENV_PROPERTIES = {
  WORKER_CONCURRENCY: {
    description:
      'Jobs processed at once by one worker process. Each mostly waits on an outside call or the database.',
    type: 'integer',
    minimum: 1,
    maximum: 256,
    default: 16,
  },
  WORKER_LOCK_MS: {
    description:
      "How long a job's lock lasts without renewal: a dead worker's job is taken over after this.",
    type: 'integer',
    minimum: 1000,
    default: 30_000,
  },
  FAILED_JOBS_KEEP_DAYS: {
    description:
      "Days a job that failed for good stays in the worker's queue (Bull Board, the operators' retry); the connection keeps its story in MongoDB.",
    type: 'integer',
    minimum: 1,
    default: 30,
  },
  FAILED_JOBS_KEEP_COUNT: {
    description:
      "Failed jobs kept at most in the worker's queue; the oldest go first beyond this many.",
    type: 'integer',
    minimum: 1,
    default: 10_000,
  },
  RECONCILE_EVERY_MS: {
    description:
      "How often the reconciler looks for connections that need this worker's work but have no live job.",
    type: 'integer',
    minimum: 1000,
    default: 60_000,
  },
  RECONCILE_AFTER_MS: {
    description:
      'How long a connection must stay unchanged, with no live job, before the reconciler publishes its work again.',
    type: 'integer',
    minimum: 1000,
    default: 120_000,
  },
  ...runtimeEnvProperties(30_000),
} as const;

/** The worker's own listener for /health, /ready and /metrics, on its default port. */
export function monitoringEnvProperties<const Port extends number>(defaultPort: Port) {
  return {
    MONITORING_HOST: {
      description: "Address of the worker's own listener for /health, /ready and /metrics.",
      type: 'string',
      minLength: 1,
      default: '0.0.0.0',
    },
    MONITORING_PORT: {
      description:
        "Port of the worker's own listener for /health, /ready and /metrics; 0 picks a free port.",
      type: 'integer',
      minimum: 0,
      maximum: 65535,
      default: defaultPort,
    },
  } as const;
}
