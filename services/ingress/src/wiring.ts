// Wires the ingress from its configuration: the fail-fast producer connection, the signing keys,
// the token verifier, the publisher, and the readiness checks. Shared by main.ts and the tests.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { Logger } from '@fortellis-admin/service-kit';
import type { IngressDeps } from './app.ts';
import type { IngressConfig } from './config.ts';
import { JobPublisher } from './data-access/job-publisher.ts';
import { JwksKeyStore } from './data-access/jwks-key-store.ts';
import { TokenVerifier } from './domain/token-verifier.ts';
import { createIngressMetrics, type IngressMetrics } from './ingress-metrics.ts';

/**
 * The producer connection never queues commands in memory while Redis is away: the publisher
 * decides how long a call waits for Redis (the hold window) and knows what was never sent.
 */
export function createProducerConnection(url: string, logger: Logger): Redis {
  const redis = new Redis(url, {
    lazyConnect: true,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    connectTimeout: 1000,
    // Reconnect quickly: calls wait for Redis only as long as the hold window.
    retryStrategy: (attempt) => Math.min(attempt * 100, 500),
  });
  redis.on('error', (error) =>
    logger.warn({ err: { message: error.message } }, 'redis connection error'),
  );
  return redis;
}

export interface IngressWiring {
  deps: IngressDeps;
  metrics: IngressMetrics;
  keys: JwksKeyStore;
  publisher: JobPublisher;
}

export function wireIngress(
  config: IngressConfig,
  clients: { redis: Redis; logger: Logger; jwksCooldownMs?: number },
): IngressWiring {
  const { redis, logger } = clients;
  const keys = new JwksKeyStore({
    url: config.fortellis.jwksUrl,
    logger,
    ...(clients.jwksCooldownMs === undefined ? {} : { cooldownMs: clients.jwksCooldownMs }),
  });
  const verifier = new TokenVerifier({
    getKey: keys.getKey,
    issuer: config.fortellis.issuer,
    audience: config.fortellis.audience,
    clientId: config.fortellis.clientId,
    clockToleranceSeconds: 60,
  });
  const metrics = createIngressMetrics();
  const publisher = new JobPublisher({
    connection: redis,
    prefix: config.redis.queuePrefix,
    holdMs: config.acknowledgement.holdMs,
    durability: config.acknowledgement.durability,
    onPublished: (seconds) => metrics.enqueued(seconds),
    logger,
  });
  return {
    keys,
    publisher,
    metrics,
    deps: {
      metrics,
      config,
      logger,
      verifier,
      publisher,
      readiness: {
        // Not ready either while the connected Redis would not keep what the ingress acknowledges.
        redis: async () =>
          (await redis.ping()) === 'PONG' && (await publisher.checkDurability()) !== 'insufficient',
        jwks: async () => keys.loaded,
      },
      clock: { now: () => new Date() },
      ids: { requestId: () => randomUUID() },
    },
  };
}
