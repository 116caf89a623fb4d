// The ingress's Redis settings: where Redis is (a URL, Sentinels, a Cluster, with the key prefix a
// hash tag on a Cluster) and ACK_REPLICAS, how many replicas must hold a job before a 200.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@fortellis-admin/contracts';
import { loadIngressConfig } from '../src/config.ts';

const base = {
  FORTELLIS_ISSUER: 'https://identity.example.com/oauth2/x',
  FORTELLIS_CLIENT_ID: 'provider-client',
  QUEUE_PREFIX: 'fa',
};

describe('the ingress configuration of Redis', () => {
  it('REDIS_URL as before; ACK_REPLICAS 0 unless set', () => {
    const config = loadIngressConfig({ ...base, REDIS_URL: 'redis://r:6379' });
    expect(config.redis).toEqual({
      topology: { kind: 'url', url: 'redis://r:6379' },
      tls: false,
      queuePrefix: 'fa',
      replicas: 0,
    });
    expect(config.acknowledgement.replicas).toBe(0);
  });

  it('Sentinels, and a Cluster with the prefix as a hash tag', () => {
    const sentinel = loadIngressConfig({
      ...base,
      REDIS_SENTINELS: '127.0.0.1:26379',
      REDIS_SENTINEL_MASTER: 'mymaster',
      ACK_REPLICAS: '1',
    });
    expect(sentinel.redis.topology).toEqual({
      kind: 'sentinel',
      sentinels: [{ host: '127.0.0.1', port: 26379 }],
      masterName: 'mymaster',
    });
    expect(sentinel.acknowledgement.replicas).toBe(1);
    const cluster = loadIngressConfig({ ...base, REDIS_CLUSTER_NODES: '127.0.0.1:7000' });
    expect(cluster.redis.queuePrefix).toBe('{fa}');
  });

  it.each(['-1', '1.5', 'two'])('refuses ACK_REPLICAS=%s, naming it', (value) => {
    expect(() =>
      loadIngressConfig({ ...base, REDIS_URL: 'redis://r:6379', ACK_REPLICAS: value }),
    ).toThrow(ConfigError);
    try {
      loadIngressConfig({ ...base, REDIS_URL: 'redis://r:6379', ACK_REPLICAS: value });
    } catch (error) {
      expect((error as ConfigError).variable).toBe('ACK_REPLICAS');
    }
  });
});
