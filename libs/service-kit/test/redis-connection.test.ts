// Where Redis is, as every service reads it: exactly one of a URL, Sentinels with a master name, or a
// Cluster's nodes; on a Cluster the key prefix becomes a hash tag; what start-up refuses, naming the
// variables and never a password; and the options each kind of connection is opened with.
import { Cluster, type Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@fortellis-admin/contracts';
import {
  createLogger,
  createProducerConnection,
  createRedisConnection,
  loadEnv,
  redisSettingsOf,
  REDIS_ENV_PROPERTIES,
  runtimeEnvProperties,
  type RedisSettings,
} from '@fortellis-admin/service-kit';

const schema = {
  type: 'object',
  properties: { ...REDIS_ENV_PROPERTIES, ...runtimeEnvProperties(10_000) },
} as const;

function settings(env: Record<string, string>): RedisSettings {
  return redisSettingsOf(loadEnv(schema, env));
}

function refusal(env: Record<string, string>): ConfigError {
  try {
    settings(env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

const SENTINELS = {
  REDIS_SENTINELS: '10.0.0.1:26379, 10.0.0.2:26379',
  REDIS_SENTINEL_MASTER: 'mymaster',
};

describe('where Redis is', () => {
  it('REDIS_URL alone: as before, the prefix as given', () => {
    expect(settings({ REDIS_URL: 'rediss://u:p@redis:6380/0', QUEUE_PREFIX: 'fa' })).toEqual({
      topology: { kind: 'url', url: 'rediss://u:p@redis:6380/0' },
      tls: false,
      queuePrefix: 'fa',
      replicas: 0,
    });
  });

  it('Sentinels with a master name, their password, and the data nodes’ user, password and TLS', () => {
    expect(
      settings({
        ...SENTINELS,
        REDIS_SENTINEL_PASSWORD: 'sentinel-pw',
        REDIS_USERNAME: 'ingress',
        REDIS_PASSWORD: 'node-pw',
        REDIS_TLS: 'true',
      }),
    ).toEqual({
      topology: {
        kind: 'sentinel',
        sentinels: [
          { host: '10.0.0.1', port: 26379 },
          { host: '10.0.0.2', port: 26379 },
        ],
        masterName: 'mymaster',
        sentinelPassword: 'sentinel-pw',
      },
      username: 'ingress',
      password: 'node-pw',
      tls: true,
      queuePrefix: 'fortellis-admin',
      replicas: 0,
    });
  });

  it('a Cluster: its nodes (IPv6 too), and the prefix as a hash tag so every key shares a slot', () => {
    const cluster = settings({ REDIS_CLUSTER_NODES: 'node-a:7000,[::1]:7001', QUEUE_PREFIX: 'fa' });
    expect(cluster.topology).toEqual({
      kind: 'cluster',
      nodes: [
        { host: 'node-a', port: 7000 },
        { host: '::1', port: 7001 },
      ],
    });
    expect(cluster.queuePrefix).toBe('{fa}');
    expect(cluster.tls).toBe(false);
  });
});

describe('what start-up refuses', () => {
  it('none of the three: names REDIS_URL and the alternatives', () => {
    const error = refusal({});
    expect(error.variable).toBe('REDIS_URL');
    expect(error.message).toBe(
      'invalid configuration: REDIS_URL is required but not set (or REDIS_SENTINELS with REDIS_SENTINEL_MASTER, or REDIS_CLUSTER_NODES)',
    );
  });

  it.each([
    [{ REDIS_URL: 'redis://r:6379', ...SENTINELS }, 'REDIS_SENTINELS', 'REDIS_URL'],
    [
      { REDIS_URL: 'redis://r:6379', REDIS_CLUSTER_NODES: 'n:7000' },
      'REDIS_CLUSTER_NODES',
      'REDIS_URL',
    ],
    [{ ...SENTINELS, REDIS_CLUSTER_NODES: 'n:7000' }, 'REDIS_CLUSTER_NODES', 'REDIS_SENTINELS'],
  ])('two of them (%j): names both', (env, second, first) => {
    const error = refusal(env);
    expect(error.variable).toBe(second);
    expect(error.message).toBe(
      `invalid configuration: ${second} cannot be set with ${first}: set exactly one of REDIS_URL, REDIS_SENTINELS, REDIS_CLUSTER_NODES`,
    );
  });

  it('Sentinels without the master name', () => {
    const error = refusal({ REDIS_SENTINELS: 's:26379' });
    expect(error.message).toBe(
      'invalid configuration: REDIS_SENTINEL_MASTER is required with REDIS_SENTINELS but not set',
    );
  });

  it.each([
    [{ REDIS_URL: 'redis://r:6379', REDIS_PASSWORD: 'pw' }, 'REDIS_PASSWORD'],
    [{ REDIS_URL: 'redis://r:6379', REDIS_USERNAME: 'u' }, 'REDIS_USERNAME'],
    [{ REDIS_URL: 'redis://r:6379', REDIS_TLS: 'true' }, 'REDIS_TLS'],
    [{ REDIS_CLUSTER_NODES: 'n:7000', REDIS_SENTINEL_MASTER: 'm' }, 'REDIS_SENTINEL_MASTER'],
    [{ REDIS_CLUSTER_NODES: 'n:7000', REDIS_SENTINEL_PASSWORD: 'pw' }, 'REDIS_SENTINEL_PASSWORD'],
  ])('a variable the chosen one would silently ignore (%j)', (env, variable) => {
    const error = refusal(env);
    expect(error.variable).toBe(variable);
    expect(error.message).toMatch(/is not used with (REDIS_URL|REDIS_CLUSTER_NODES)/);
  });

  it.each([
    ['REDIS_SENTINELS', 'sentinel-without-port'],
    ['REDIS_SENTINELS', 's:26379;t:26379'],
    ['REDIS_CLUSTER_NODES', 'n:70000,'],
    ['REDIS_CLUSTER_NODES', 'n:99999'],
  ])('%s=%s: not a host:port list', (variable, value) => {
    const env =
      variable === 'REDIS_SENTINELS' ? { ...SENTINELS, [variable]: value } : { [variable]: value };
    expect(refusal(env).variable).toBe(variable);
  });

  it('in production, a Redis password the simulator publishes is refused like any other', () => {
    for (const variable of ['REDIS_PASSWORD', 'REDIS_SENTINEL_PASSWORD']) {
      let thrown: unknown;
      try {
        loadEnv(schema, { ...SENTINELS, NODE_ENV: 'production', [variable]: 'backend-secret' });
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(ConfigError);
      expect((thrown as ConfigError).variable).toBe(variable);
      expect((thrown as ConfigError).message).not.toContain('backend-secret');
    }
  });
});

describe('the connections', () => {
  const logger = createLogger('test', 'silent');
  const sentinel = settings({ ...SENTINELS, REDIS_PASSWORD: 'pw', REDIS_USERNAME: 'u' });
  const readonlyError = new Error("READONLY You can't write against a read only replica.");
  const unblocked = new Error('UNBLOCKED force unblock from blocking operation');

  it('behind Sentinels: the master by name, the failover detector, and a reconnect on READONLY and UNBLOCKED', () => {
    const worker = createRedisConnection(sentinel, 'worker', logger) as Redis;
    const options = worker.options;
    expect(options).toMatchObject({
      name: 'mymaster',
      role: 'master',
      failoverDetector: true,
      username: 'u',
      password: 'pw',
      maxRetriesPerRequest: null,
      enableOfflineQueue: true,
      lazyConnect: true,
    });
    // A worker's command refused by a demoted primary did not run: sent again once reconnected.
    expect(options.reconnectOnError?.(readonlyError)).toBe(2);
    expect(options.reconnectOnError?.(unblocked)).toBe(2);
    expect(options.reconnectOnError?.(new Error('ERR wrong number of arguments'))).toBe(false);
    // The publisher's fails, and the publisher looks up what was stored.
    const publisher = createProducerConnection(sentinel, logger) as Redis;
    expect(publisher.options).toMatchObject({ maxRetriesPerRequest: 0, enableOfflineQueue: false });
    expect(publisher.options.reconnectOnError?.(readonlyError)).toBe(1);
    worker.disconnect();
    publisher.disconnect();
  });

  it('a Cluster: reads and writes on the primaries, retried while a primary is replaced', () => {
    const cluster = createRedisConnection(
      settings({ REDIS_CLUSTER_NODES: '127.0.0.1:7000', REDIS_PASSWORD: 'pw' }),
      'app',
      logger,
    );
    expect(cluster).toBeInstanceOf(Cluster);
    const options = (cluster as Cluster).options;
    expect(options).toMatchObject({ scaleReads: 'master', enableOfflineQueue: true });
    expect(options.redisOptions).toMatchObject({ password: 'pw', maxRetriesPerRequest: null });
    cluster.disconnect();
  });
});
