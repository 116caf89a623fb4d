// Wires the ingress from its configuration: the signing keys, the token verifier, the publisher on
// the producer connection, and the readiness checks. Shared by main.ts and the tests.
import { randomUUID } from 'node:crypto';
import { JobPublisher, type Logger, type RedisClient } from '@fortellis-admin/service-kit';
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
  clients: { redis: RedisClient; logger: Logger; jwksCooldownMs?: number },
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
    ackReplicas: config.acknowledgement.replicas,
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
        redis: redisReadiness(redis, publisher, config.acknowledgement.holdMs),
        jwks: async () => keys.loaded,
        accepting: async () => !lifecycle.draining,
      },
      clock: { now: () => new Date() },
      ids: { requestId: () => randomUUID() },
    },
  };
}

/**
 * Ready while Redis answered within the last hold window and keeps what the ingress acknowledges.
 * A Redis away for less than that (a failover, a restart) keeps the ingress in rotation: its calls
 * are held until Redis is back, and every replica shares that Redis, so taking them all out of
 * the load balancer would refuse the calls that holding would answer.
 */
function redisReadiness(
  redis: RedisClient,
  publisher: JobPublisher,
  holdMs: number,
): () => Promise<boolean> {
  let answeredAt = performance.now();
  return async () => {
    // A stalled Redis never answers: a ping unanswered within a second counts as not answered.
    let timer: NodeJS.Timeout | undefined;
    const answered = await Promise.race([
      redis.ping().then(
        (reply) => reply === 'PONG',
        () => false,
      ),
      new Promise<false>((resolve) => (timer = setTimeout(resolve, 1000, false))),
    ]).finally(() => clearTimeout(timer));
    if (answered) answeredAt = performance.now();
    if (!answered && performance.now() - answeredAt >= holdMs) return false;
    return (await publisher.checkDurability()) !== 'insufficient';
  };
}
