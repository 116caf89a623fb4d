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

/** An operator token of OPS_API_TOKENS: `name:role=token`, or `name=token` without a role. */
export interface OperatorTokenEntry {
  name: string;
  role?: 'metrics' | 'viewer' | 'operator' | 'admin';
  token: string;
}

/**
 * The environment of a whole stack of service processes for an end-to-end test: the simulator's
 * (Fortellis, the platform, the backend), a namespace of its own, free ports for the ingress and
 * the operations listener, and its operator tokens; with the URLs they will answer on.
 */
export async function stackEnv(
  simulatorEnv: Record<string, string>,
  name: string,
  operatorTokens: OperatorTokenEntry | readonly OperatorTokenEntry[],
  extra: Record<string, string> = {},
): Promise<{ env: Record<string, string>; ingressUrl: string; opsUrl: string }> {
  const [port, opsPort] = [await freePort(), await freePort()];
  return {
    env: {
      ...simulatorEnv,
      ...isolatedServiceEnv(createTestNamespace(name)),
      PORT: String(port),
      OPS_PORT: String(opsPort),
      OPS_API_TOKENS: [operatorTokens]
        .flat()
        .map((entry) =>
          entry.role === undefined
            ? `${entry.name}=${entry.token}`
            : `${entry.name}:${entry.role}=${entry.token}`,
        )
        .join(','),
      ...extra,
    },
    ingressUrl: `http://127.0.0.1:${port}`,
    opsUrl: `http://127.0.0.1:${opsPort}`,
  };
}
