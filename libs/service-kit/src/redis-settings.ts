// Where Redis is, read from the environment: one URL, a master behind Sentinels, or a Cluster. Pure:
// no driver is loaded here (redis-connection.ts opens the connections).
import { ConfigError, queueKeyPrefix } from '@fortellis-admin/contracts';

/** A list of host:port, comma-separated (a host may be a bracketed IPv6 address). */
export const REDIS_NODE_LIST_PATTERN =
  '^\\s*(\\[[0-9A-Fa-f:.]+\\]|[^\\s,:\\[\\]]+):[0-9]{1,5}(\\s*,\\s*(\\[[0-9A-Fa-f:.]+\\]|[^\\s,:\\[\\]]+):[0-9]{1,5})*\\s*$';

export interface RedisEndpoint {
  host: string;
  port: number;
}

/** Where Redis is. */
export type RedisTopology =
  | { kind: 'url'; url: string }
  | {
      kind: 'sentinel';
      sentinels: readonly RedisEndpoint[];
      masterName: string;
      /** The Sentinels' own password, if they have one. */
      sentinelPassword?: string;
    }
  | { kind: 'cluster'; nodes: readonly RedisEndpoint[] };

/** Everything a service needs to reach Redis and name its keys. */
export interface RedisSettings {
  topology: RedisTopology;
  /** With Sentinel or Cluster: the data nodes' user and password, and TLS (to Sentinels too). */
  username?: string;
  password?: string;
  tls: boolean;
  /**
   * The prefix of every key of the system (queues, fences, ledger, locks, login counters):
   * QUEUE_PREFIX, as the hash tag `{QUEUE_PREFIX}` on a Cluster so that all of them share a slot.
   */
  queuePrefix: string;
  /**
   * Replicas that must hold a write before it is relied on (ACK_REPLICAS): the ingress's jobs,
   * the workers' locks and call-outcome entries. 0 relies on the primary alone.
   */
  replicas?: number;
}

/** The loaded Redis variables (REDIS_ENV_PROPERTIES) of a service's environment. */
export interface RedisEnv {
  readonly REDIS_URL?: string;
  readonly REDIS_SENTINELS?: string;
  readonly REDIS_SENTINEL_MASTER?: string;
  readonly REDIS_SENTINEL_PASSWORD?: string;
  readonly REDIS_CLUSTER_NODES?: string;
  readonly REDIS_USERNAME?: string;
  readonly REDIS_PASSWORD?: string;
  readonly REDIS_TLS: boolean;
  readonly QUEUE_PREFIX: string;
  readonly ACK_REPLICAS: number;
}

const WHERE = ['REDIS_URL', 'REDIS_SENTINELS', 'REDIS_CLUSTER_NODES'] as const;

/**
 * The Redis settings of a loaded environment. Throws {@link ConfigError} when none or more than one
 * of REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES is set, when REDIS_SENTINELS comes without
 * REDIS_SENTINEL_MASTER, and when a variable is set that the chosen one does not use (it would be
 * ignored silently otherwise).
 */
export function redisSettingsOf(env: RedisEnv): RedisSettings {
  const given = WHERE.filter((name) => env[name] !== undefined);
  const [first, second] = given;
  if (first === undefined) {
    throw new ConfigError(
      'REDIS_URL',
      'is required but not set (or REDIS_SENTINELS with REDIS_SENTINEL_MASTER, or REDIS_CLUSTER_NODES)',
    );
  }
  if (second !== undefined) {
    throw new ConfigError(
      second,
      `cannot be set with ${first}: set exactly one of ${WHERE.join(', ')}`,
    );
  }
  refuseUnused(env, first);
  const auth = {
    ...(env.REDIS_USERNAME === undefined ? {} : { username: env.REDIS_USERNAME }),
    ...(env.REDIS_PASSWORD === undefined ? {} : { password: env.REDIS_PASSWORD }),
    tls: env.REDIS_TLS,
  };
  if (first === 'REDIS_URL') {
    return {
      topology: { kind: 'url', url: env.REDIS_URL ?? '' },
      tls: false,
      queuePrefix: env.QUEUE_PREFIX,
      replicas: env.ACK_REPLICAS,
    };
  }
  if (first === 'REDIS_CLUSTER_NODES') {
    return {
      topology: {
        kind: 'cluster',
        nodes: parseEndpoints(env.REDIS_CLUSTER_NODES ?? '', 'REDIS_CLUSTER_NODES'),
      },
      ...auth,
      queuePrefix: queueKeyPrefix(env.QUEUE_PREFIX, true),
      replicas: env.ACK_REPLICAS,
    };
  }
  if (env.REDIS_SENTINEL_MASTER === undefined) {
    throw new ConfigError('REDIS_SENTINEL_MASTER', 'is required with REDIS_SENTINELS but not set');
  }
  return {
    topology: {
      kind: 'sentinel',
      sentinels: parseEndpoints(env.REDIS_SENTINELS ?? '', 'REDIS_SENTINELS'),
      masterName: env.REDIS_SENTINEL_MASTER,
      ...(env.REDIS_SENTINEL_PASSWORD === undefined
        ? {}
        : { sentinelPassword: env.REDIS_SENTINEL_PASSWORD }),
    },
    ...auth,
    queuePrefix: env.QUEUE_PREFIX,
    replicas: env.ACK_REPLICAS,
  };
}

function refuseUnused(env: RedisEnv, chosen: (typeof WHERE)[number]): void {
  const unused: string[] = [];
  if (chosen !== 'REDIS_SENTINELS') unused.push('REDIS_SENTINEL_MASTER', 'REDIS_SENTINEL_PASSWORD');
  if (chosen === 'REDIS_URL') unused.push('REDIS_USERNAME', 'REDIS_PASSWORD');
  const set = unused.find((name) => env[name as keyof RedisEnv] !== undefined);
  if (set !== undefined) {
    const where = chosen === 'REDIS_URL' ? ' (put credentials in the URL)' : '';
    throw new ConfigError(set, `is not used with ${chosen}${where}: unset it`);
  }
  if (chosen === 'REDIS_URL' && env.REDIS_TLS) {
    throw new ConfigError('REDIS_TLS', 'is not used with REDIS_URL: write rediss:// for TLS');
  }
}

/** 'a:1, [::1]:2' -> [{a,1},{::1,2}]; the pattern has already checked the shape. */
export function parseEndpoints(list: string, variable: string): RedisEndpoint[] {
  return list
    .split(',')
    .map((part) => part.trim())
    .filter((part) => part !== '')
    .map((part) => {
      const colon = part.lastIndexOf(':');
      const host = part.slice(0, colon).replace(/^\[(.*)\]$/, '$1');
      const port = Number(part.slice(colon + 1));
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        throw new ConfigError(variable, `has a port out of range (${part})`);
      }
      return { host, port };
    });
}
