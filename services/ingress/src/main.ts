// Composition root of the ingress: configuration, logger, clients, wiring, signals.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { createLogger, runService } from '@fortellis-admin/contracts';
import { buildApp } from './app.ts';
import { loadIngressConfig } from './config.ts';
import { JobPublisher } from './data-access/job-publisher.ts';
import { JwksKeyStore } from './data-access/jwks-key-store.ts';
import { TokenVerifier } from './domain/token-verifier.ts';

await runService({
  name: 'ingress',
  loadConfig: () => loadIngressConfig(process.env),
  createLogger: (config) => createLogger('ingress', config.logLevel),
  stopTimeoutMs: (config) => config.shutdownTimeoutMs,
  start: async (config, logger) => {
    // The producer connection fails fast: while Redis is away, commands error at once instead of
    // waiting in memory, so the caller gets 503 and nothing is acknowledged that was not stored.
    const redis = new Redis(config.redis.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: 1000,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2000),
    });
    redis.on('error', (error) =>
      logger.warn({ err: { message: error.message } }, 'redis connection error'),
    );
    await redis
      .connect()
      .catch((error: unknown) =>
        logger.error({ err: error }, 'redis not reachable at start; retrying'),
      );

    const keys = new JwksKeyStore({ url: config.fortellis.jwksUrl, logger });
    await keys.start();
    const verifier = new TokenVerifier({
      getKey: keys.getKey,
      issuer: config.fortellis.issuer,
      audience: config.fortellis.audience,
      clientId: config.fortellis.clientId,
      clockToleranceSeconds: 60,
    });
    const publisher = new JobPublisher({ connection: redis, prefix: config.redis.queuePrefix });
    const { app } = await buildApp({
      config,
      logger,
      verifier,
      publisher,
      readiness: {
        redis: async () => (await redis.ping()) === 'PONG',
        jwks: async () => keys.loaded,
      },
      clock: { now: () => new Date() },
      ids: { requestId: () => randomUUID() },
    });
    await app.listen({ host: config.http.host, port: config.http.port });
    return {
      stop: async () => {
        await app.close();
        keys.stop();
        await publisher.close();
        redis.disconnect();
      },
    };
  },
});
