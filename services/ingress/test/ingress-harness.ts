// Builds a real ingress (real JWKS key store, verifier and BullMQ publisher) against real Redis and
// the simulator, for component tests through app.inject, with its monitoring listener (/health,
// /ready, /metrics) on a free loopback port.
import { Queue } from 'bullmq';
import { QUEUE_NAMES, type QueueName } from '@fortellis-admin/contracts';
import type { Simulator } from '@fortellis-admin/simulator';
import {
  checkReadiness,
  createProducerConnection,
  startMonitoringServer,
} from '@fortellis-admin/service-kit';
import { capturingLogger } from '@fortellis-admin/test-support';
import { buildApp, type IngressApp } from '../src/app.ts';
import { loadIngressConfig } from '../src/config.ts';
import type { JwksKeyStore } from '../src/data-access/jwks-key-store.ts';
import { wireIngress } from '../src/wiring.ts';

export interface Harness extends IngressApp {
  keys: JwksKeyStore;
  logs: string[];
  /** The monitoring listener, e.g. `${monitoringUrl}/ready`. */
  monitoringUrl: string;
  queue(name: QueueName): Queue;
  /** Every job in the queue, in any state. */
  jobs(name: QueueName): Promise<Array<{ id: string | undefined; name: string; data: unknown }>>;
  close(): Promise<void>;
}

export async function startHarness(options: {
  redisUrl: string;
  sim: Simulator;
  prefix: string;
  basePath?: string;
  publicBaseUrl?: string;
  loadKeys?: boolean;
  /** PUBLISH_HOLD_MS: how long a call waits for Redis before it is refused. */
  holdMs?: number;
  /** Least time between two JWKS fetches caused by calls. Default 5 s. */
  jwksCooldownMs?: number;
}): Promise<Harness> {
  const config = loadIngressConfig({
    REDIS_URL: options.redisUrl,
    QUEUE_PREFIX: options.prefix,
    ...options.sim.env(),
    ...(options.basePath === undefined ? {} : { BASE_PATH: options.basePath }),
    ...(options.publicBaseUrl === undefined ? {} : { PUBLIC_BASE_URL: options.publicBaseUrl }),
    LOG_LEVEL: 'info',
    ...(options.holdMs === undefined ? {} : { PUBLISH_HOLD_MS: String(options.holdMs) }),
  });
  const { logger, lines: logs } = capturingLogger('ingress');
  const redis = createProducerConnection(config.redis, logger);
  await redis.connect();
  const { deps, keys, publisher, metrics } = wireIngress(config, {
    redis,
    logger,
    jwksCooldownMs: options.jwksCooldownMs ?? 5000,
  });
  if (options.loadKeys !== false) await keys.refresh();
  const built = await buildApp(deps);
  await built.app.ready();
  const monitoring = await startMonitoringServer({
    host: '127.0.0.1',
    port: 0,
    registry: metrics.registry,
    ready: () => checkReadiness(deps.readiness),
  });
  const inspectors = new Map<QueueName, Queue>();
  const queue = (name: QueueName): Queue => {
    let found = inspectors.get(name);
    if (found === undefined) {
      found = new Queue(name, { connection: { url: options.redisUrl }, prefix: options.prefix });
      inspectors.set(name, found);
    }
    return found;
  };
  return {
    ...built,
    keys,
    logs,
    monitoringUrl: `http://127.0.0.1:${monitoring.port}`,
    queue,
    jobs: async (name) =>
      (
        await queue(name).getJobs([
          'waiting',
          'delayed',
          'active',
          'completed',
          'failed',
          'prioritized',
        ])
      ).map((job) => ({
        id: job.id,
        name: job.name,
        data: job.data as unknown,
      })),
    close: async () => {
      await built.app.close();
      await monitoring.close();
      await publisher.close();
      redis.disconnect();
      for (const inspector of inspectors.values()) await inspector.close();
    },
  };
}

export const ALL_QUEUES = Object.values(QUEUE_NAMES);
