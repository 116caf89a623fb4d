import './provided-context.ts';
// Helpers that only make sense inside a vitest run: they read what the global set-up provided.
import { inject } from 'vitest';
import type { TestNamespace } from './isolation.ts';

/**
 * The environment that points a service process at this run's Redis and MongoDB-wire server, in
 * the test file's own namespace, listening on loopback only.
 */
export function isolatedServiceEnv(ns: TestNamespace): Record<string, string> {
  return {
    REDIS_URL: inject('redisUrl'),
    MONGODB_URL: inject('mongoUrl'),
    MONGODB_DATABASE: ns.dbName,
    QUEUE_PREFIX: ns.queuePrefix,
    HOST: '127.0.0.1',
    OPS_HOST: '127.0.0.1',
    MONITORING_HOST: '127.0.0.1',
  };
}
