// Composition root of the ingress: configuration, logger, clients, wiring, signals.
import { Redis } from 'ioredis';
import { createLogger, runService } from '@fortellis-admin/contracts';
import { buildApp } from './app.ts';
import { loadIngressConfig } from './config.ts';

await runService({
  name: 'ingress',
  loadConfig: () => loadIngressConfig(process.env),
  createLogger: (config) => createLogger('ingress', config.logLevel),
  stopTimeoutMs: (config) => config.shutdownTimeoutMs,
  start: async (config, logger) => {
    const redis = new Redis(config.redis.url, {
      lazyConnect: true,
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      connectTimeout: 2000,
    });
    redis.on('error', (error) => logger.warn({ err: error }, 'redis connection error'));
    await redis.connect();
    const app = await buildApp({
      config,
      logger,
      readiness: { redis: async () => (await redis.ping()) === 'PONG' },
    });
    await app.listen({ host: config.http.host, port: config.http.port });
    return {
      stop: async () => {
        await app.close();
        redis.disconnect();
      },
    };
  },
});
