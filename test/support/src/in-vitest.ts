import './provided-context.ts';
// Helpers that only make sense inside a vitest run: they read what the global set-up provided.
import { inject } from 'vitest';
import { createTestNamespace, type TestNamespace } from './isolation.ts';
import { freePort } from './processes.ts';

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

/**
 * The environment of a whole stack of service processes for an end-to-end test: the simulator's
 * (Fortellis, the platform, the backend), a namespace of its own, free ports for the ingress and
 * the operations listener, and one operator token; with the URLs they will answer on.
 */
export async function stackEnv(
  simulatorEnv: Record<string, string>,
  name: string,
  operatorToken: { name: string; token: string },
  extra: Record<string, string> = {},
): Promise<{ env: Record<string, string>; ingressUrl: string; opsUrl: string }> {
  const [port, opsPort] = [await freePort(), await freePort()];
  return {
    env: {
      ...simulatorEnv,
      ...isolatedServiceEnv(createTestNamespace(name)),
      PORT: String(port),
      OPS_PORT: String(opsPort),
      OPS_API_TOKENS: `${operatorToken.name}=${operatorToken.token}`,
      ...extra,
    },
    ingressUrl: `http://127.0.0.1:${port}`,
    opsUrl: `http://127.0.0.1:${opsPort}`,
  };
}
