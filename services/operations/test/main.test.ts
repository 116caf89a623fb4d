// The operations process: starts with a valid environment, serves its probes without a token and
// everything else only to operators, counts its requests in its own metrics, stops on SIGTERM,
// and refuses a bad environment.
import { missingMetrics } from '@fortellis-admin/service-kit';
import { describe, expect, inject, it } from 'vitest';
import {
  createTestNamespace,
  freePort,
  runServiceToExit,
  startService,
} from '@fortellis-admin/test-support';

/** What the refusal of a missing REDIS_URL adds: the other ways to say where Redis is. */
const REDIS_ALTERNATIVES =
  ' (or REDIS_SENTINELS with REDIS_SENTINEL_MASTER, or REDIS_CLUSTER_NODES)';

const ns = createTestNamespace('operations-main');
const TOKEN = 'ops-Vb3Nm7Qw2Er6Ty0Ui4OpJk1Lz5Xc9';

function validEnv(port: number): NodeJS.ProcessEnv {
  return {
    REDIS_URL: inject('redisUrl'),
    MONGODB_URL: inject('mongoUrl'),
    MONGODB_DATABASE: ns.dbName,
    QUEUE_PREFIX: ns.queuePrefix,
    OPS_HOST: '127.0.0.1',
    OPS_PORT: String(port),
    OPS_API_TOKENS: `alice=${TOKEN}`,
  };
}

describe('operations main', () => {
  it('starts with a valid environment, answers /health and /ready, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const service = await startService('operations', validEnv(port));
    try {
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      expect(health.status).toBe(200);
      expect(await health.json()).toEqual({ status: 'up' });
      const ready = await fetch(`http://127.0.0.1:${port}/ready`);
      expect(ready.status).toBe(200);
      expect(await ready.json()).toEqual({
        status: 'ready',
        checks: { redis: 'up', mongodb: 'up' },
      });
    } finally {
      await service.stop();
    }
    expect(service.child.exitCode).toBe(0);
    expect(service.output()).toContain('"msg":"operations stopped"');
    expect(service.output()).not.toContain(TOKEN);
    // An entry written without a role is an operator, and start-up says so, naming it.
    expect(service.output()).toMatch(
      /"event":"operator_role_defaulted","entries":\["alice"\],"role":"operator"/,
    );
  });

  it('serves the operations API and its own metrics to operators only', async () => {
    const port = await freePort();
    const service = await startService('operations', validEnv(port));
    try {
      const base = `http://127.0.0.1:${port}`;
      const auth = { authorization: `Bearer ${TOKEN}` };
      const ops = await fetch(`${base}/ops/connections`, { headers: auth });
      expect(ops.status).toBe(200);
      expect(await ops.json()).toEqual({ items: [], nextCursor: null });
      expect((await fetch(`${base}/ops/connections`)).status).toBe(401);
      expect((await fetch(`${base}/metrics`)).status).toBe(401);
      const scrape = async () => (await fetch(`${base}/metrics`, { headers: auth })).text();
      // The request is counted when its response has finished, which may be just after the
      // client has it.
      await expect
        .poll(scrape)
        .toMatch(
          /^fortellis_admin_http_requests_total\{route="\/ops\/connections",status="200",service="operations"\} 1$/m,
        );
      const metrics = await scrape();
      expect(metrics).toMatch(
        /^fortellis_admin_http_requests_total\{route="\/ops\/connections",status="401",service="operations"\} 1$/m,
      );
      expect(metrics).toContain('process_cpu_user_seconds_total{service="operations"}');
      expect(missingMetrics(metrics, 'operations')).toEqual([]);
    } finally {
      await service.stop();
    }
    expect(service.output()).not.toContain(TOKEN);
  });

  it.each(['REDIS_URL', 'MONGODB_URL', 'OPS_API_TOKENS'])(
    'refuses to start without %s, with one line naming it',
    async (variable) => {
      const env = validEnv(0);
      delete env[variable];
      const result = await runServiceToExit('operations', env);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        `operations: invalid configuration: ${variable} is required but not set${variable === 'REDIS_URL' ? REDIS_ALTERNATIVES : ''}\n`,
      );
      expect(result.stdout).toBe('');
    },
  );

  it.each([
    ['that is short', 'short-Kp2Qm9Lw4Rz8', 'its token is shorter than 32 characters'],
    ['of low variety', 'ab12'.repeat(10), 'its token has fewer than 10 distinct characters'],
    [
      'made of one repeated pattern',
      'Kp2Qm9Lw4Rz8'.repeat(3),
      'its token repeats one short pattern',
    ],
  ])(
    'refuses to start with an operator token %s, with one line naming the entry, never the token',
    async (_what, weak, problem) => {
      const result = await runServiceToExit('operations', {
        ...validEnv(0),
        OPS_API_TOKENS: `alice:admin=${TOKEN},bob:viewer=${weak}`,
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        `operations: invalid configuration: OPS_API_TOKENS entry 2 (bob:viewer) is refused: ${problem}\n`,
      );
      expect(result.stdout).toBe('');
    },
  );

  it('refuses an unknown role', async () => {
    const result = await runServiceToExit('operations', {
      ...validEnv(0),
      OPS_API_TOKENS: `alice:root=${TOKEN}`,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'operations: invalid configuration: OPS_API_TOKENS entry 1 (alice:root) is refused: its role must be one of metrics, viewer, operator, admin\n',
    );
  });
});
