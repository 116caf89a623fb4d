// Composition root of the ingress: configuration, logger, the Redis connection, the deps
// (wiring.ts) and the app (app.ts) on its listener, the monitoring listener, and how they stop.
import {
  checkReadiness,
  createLogger,
  createProducerConnection,
  runService,
  startMonitoringServer,
} from '@fortellis-admin/service-kit';
import { setTimeout as delay } from 'node:timers/promises';
import { buildApp } from './app.ts';
import { loadIngressConfig } from './config.ts';
import { wireIngress } from './wiring.ts';

await runService({
  name: 'ingress',
  loadConfig: () => loadIngressConfig(process.env),
  createLogger: (config) => createLogger('ingress', config.logLevel),
  stopTimeoutMs: (config) => config.shutdownTimeoutMs,
  start: async (config, logger) => {
    const redis = createProducerConnection(config.redis, logger);
    await redis
      .connect()
      .catch((error: unknown) =>
        logger.error({ err: error }, 'redis not reachable at start; retrying'),
      );
    const { deps, keys, publisher, metrics, lifecycle } = wireIngress(config, { redis, logger });
    // Without keys the ingress still starts (and answers 503) and keeps fetching them.
    await keys.start();
    const { app } = await buildApp(deps);
    await app.listen({ host: config.http.host, port: config.http.port });
    // Its own listener for probes and scrapers: the Fortellis-facing port serves neither /health,
    // /ready nor /metrics.
    const monitoring = await startMonitoringServer({
      ...config.monitoring,
      registry: metrics.registry,
      ready: () => checkReadiness(deps.readiness),
    });
    logger.info({ monitoringPort: monitoring.port }, 'monitoring listener started');
    return {
      stop: async () => {
        // Readiness goes first: the load balancer stops sending while calls still get answers;
        // only then does the listener close, letting the calls in flight finish.
        lifecycle.draining = true;
        logger.info({ drainMs: config.http.drainMs }, 'draining: not ready, still answering');
        await delay(config.http.drainMs);
        await app.close();
        await monitoring.close();
        keys.stop();
        await publisher.close();
        redis.disconnect();
      },
    };
  },
});
