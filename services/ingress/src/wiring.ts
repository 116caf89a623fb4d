// Wires the ingress from its configuration: the signing keys, the token verifier, the publisher on
// the producer connection, and the readiness checks. Shared by main.ts and the tests.
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { JobPublisher, type Logger } from '@fortellis-admin/service-kit';
import type { IngressDeps } from './app.ts';
import type { IngressConfig } from './config.ts';
import { JwksKeyStore } from './data-access/jwks-key-store.ts';
import { TokenVerifier } from './domain/token-verifier.ts';
import { createIngressMetrics, type IngressMetrics } from './ingress-metrics.ts';

export interface IngressWiring {
  deps: IngressDeps;
  metrics: IngressMetrics;
  keys: JwksKeyStore;
  publisher: JobPublisher;
  /** `draining` makes /ready answer 503 (set on SIGTERM, before the listener closes). */
  lifecycle: { draining: boolean };
}

export function wireIngress(
  config: IngressConfig,
  clients: { redis: Redis; logger: Logger; jwksCooldownMs?: number },
): IngressWiring {
  const { redis, logger } = clients;
  const metrics = createIngressMetrics();
  const keys = new JwksKeyStore({
    url: config.fortellis.jwksUrl,
    logger,
    onFetch: (loaded) => metrics.jwksFetch(loaded ? 'success' : 'failure'),
    ...(clients.jwksCooldownMs === undefined ? {} : { cooldownMs: clients.jwksCooldownMs }),
  });
  const verifier = new TokenVerifier({
    getKey: keys.getKey,
    issuer: config.fortellis.issuer,
    audience: config.fortellis.audience,
    clientId: config.fortellis.clientId,
    clockToleranceSeconds: 60,
  });
  const publisher = new JobPublisher({
    connection: redis,
    prefix: config.redis.queuePrefix,
    holdMs: config.acknowledgement.holdMs,
    durability: config.acknowledgement.durability,
    onPublished: (seconds) => metrics.enqueued(seconds),
    logger,
  });
  // Set when the process is told to stop: /ready answers 503 while calls are still served.
  const lifecycle = { draining: false };
  return {
    keys,
    publisher,
    metrics,
    lifecycle,
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
        accepting: async () => !lifecycle.draining,
      },
      clock: { now: () => new Date() },
      ids: { requestId: () => randomUUID() },
    },
  };
}
