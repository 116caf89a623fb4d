// The ingress process: starts with a valid environment, serves its probes and metrics on its
// monitoring listener only, stops on SIGTERM, refuses a bad one (and, in production, an unsafe one).
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

const ns = createTestNamespace('ingress-main');

function validEnv(port: number): NodeJS.ProcessEnv {
  return {
    REDIS_URL: inject('redisUrl'),
    QUEUE_PREFIX: ns.queuePrefix,
    HOST: '127.0.0.1',
    PORT: String(port),
    FORTELLIS_ISSUER: 'http://127.0.0.1:9/oauth2/aus1p1ixy7YL8cMq02p7',
    FORTELLIS_CLIENT_ID: 'provider-client-id',
  };
}

describe('ingress main', () => {
  it('starts with a valid environment, answers /health on its monitoring port, and exits 0 on SIGTERM', async () => {
    const [port, monitoringPort] = [await freePort(), await freePort()];
    const service = await startService('ingress', {
      ...validEnv(port),
      MONITORING_PORT: String(monitoringPort),
    });
    const response = await fetch(`http://127.0.0.1:${monitoringPort}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'up' });
    // Never on the Fortellis-facing port.
    expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(404);
    expect((await fetch(`http://127.0.0.1:${port}/ready`)).status).toBe(404);
    await service.stop();
    expect(service.child.exitCode).toBe(0);
    expect(service.output()).toContain('"msg":"ingress stopped"');
  });

  it('serves its metrics on its own monitoring listener only, never on the Fortellis-facing port', async () => {
    const [port, monitoringPort] = [await freePort(), await freePort()];
    const service = await startService('ingress', {
      ...validEnv(port),
      MONITORING_HOST: '127.0.0.1',
      MONITORING_PORT: String(monitoringPort),
    });
    try {
      const monitoring = `http://127.0.0.1:${monitoringPort}`;
      expect(await (await fetch(`${monitoring}/health`)).json()).toEqual({ status: 'up' });
      // Redis answers; the JWKS at 127.0.0.1:9 does not, so the ingress is not ready.
      const ready = await fetch(`${monitoring}/ready`);
      expect(ready.status).toBe(503);
      expect(await ready.json()).toEqual({
        status: 'not_ready',
        checks: { redis: 'up', jwks: 'down', accepting: 'up' },
      });
      // Work done on the Fortellis-facing port shows in the metrics of the monitoring listener.
      expect((await fetch(`http://127.0.0.1:${port}/activate`, { method: 'POST' })).status).toBe(
        403,
      );
      const scrape = async () => (await fetch(`${monitoring}/metrics`)).text();
      // The request is counted when its response has finished, which may be just after the
      // client has it.
      await expect
        .poll(scrape)
        .toMatch(
          /^fortellis_admin_http_requests_total\{route="\/activate",status="403",service="ingress"\} 1$/m,
        );
      const metrics = await scrape();
      expect(metrics).toMatch(
        /^fortellis_admin_auth_failures_total\{reason="missing_token",service="ingress"\} 1$/m,
      );
      expect(metrics).toContain('# TYPE fortellis_admin_enqueue_duration_seconds histogram');
      expect(missingMetrics(metrics, 'ingress')).toEqual([]);
      expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);
      // The operations console is another service: nothing of it on the Fortellis-facing port.
      expect((await fetch(`http://127.0.0.1:${port}/ops/connections`)).status).toBe(404);
      expect((await fetch(`http://127.0.0.1:${port}/ops/queues`)).status).toBe(404);
    } finally {
      await service.stop();
    }
    expect(service.child.exitCode).toBe(0);
  });

  it('needs neither MongoDB nor operator tokens: their variables are not read', async () => {
    const [port, monitoringPort] = [await freePort(), await freePort()];
    const service = await startService('ingress', {
      ...validEnv(port),
      MONITORING_PORT: String(monitoringPort),
      MONGODB_URL: 'not a url',
      OPS_API_TOKENS: 'not tokens',
    });
    try {
      expect((await fetch(`http://127.0.0.1:${monitoringPort}/health`)).status).toBe(200);
    } finally {
      await service.stop();
    }
    expect(service.child.exitCode).toBe(0);
  });

  it.each(['REDIS_URL', 'FORTELLIS_ISSUER', 'FORTELLIS_CLIENT_ID'])(
    'refuses to start without %s, with one line naming it',
    async (variable) => {
      const env = validEnv(0);
      delete env[variable];
      const result = await runServiceToExit('ingress', env);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        `ingress: invalid configuration: ${variable} is required but not set${variable === 'REDIS_URL' ? REDIS_ALTERNATIVES : ''}\n`,
      );
      expect(result.stdout).toBe('');
    },
  );

  describe('with NODE_ENV=production', () => {
    const production = (port: number): NodeJS.ProcessEnv => ({
      ...validEnv(port),
      NODE_ENV: 'production',
      FORTELLIS_ISSUER: 'https://identity.fortellis.io/oauth2/aus1p1ixy7YL8cMq02p7',
      FORTELLIS_JWKS_URL: 'https://127.0.0.1:9/v1/keys',
    });

    it.each([
      ['FORTELLIS_ISSUER', 'http://127.0.0.1:9/oauth2/aus1p1ixy7YL8cMq02p7'],
      ['FORTELLIS_JWKS_URL', 'http://127.0.0.1:9/oauth2/aus1p1ixy7YL8cMq02p7/v1/keys'],
    ])(
      'refuses an http: %s without ALLOW_INSECURE_HTTP, with one line naming it',
      async (name, url) => {
        const result = await runServiceToExit('ingress', { ...production(0), [name]: url });
        expect(result.code).toBe(1);
        expect(result.stderr).toBe(
          `ingress: invalid configuration: ${name} must be an https: URL when NODE_ENV=production (ALLOW_INSECURE_HTTP=true allows http: for a local stack)\n`,
        );
        expect(result.stdout).toBe('');
      },
    );

    it('with ALLOW_INSECURE_HTTP=true starts, and warns about the setting and each http: URL', async () => {
      const port = await freePort();
      const service = await startService('ingress', {
        ...production(port),
        FORTELLIS_ISSUER: 'http://127.0.0.1:9/oauth2/aus1p1ixy7YL8cMq02p7',
        FORTELLIS_JWKS_URL: 'http://jwks-user:jwks-pass@127.0.0.1:9/v1/keys?token=abc',
        ALLOW_INSECURE_HTTP: 'true',
      });
      await service.stop();
      const warnings = service
        .output()
        .split('\n')
        .filter((line) => line.includes('"event":"insecure_setting"'))
        .map((line) => JSON.parse(line) as { level: string; variable: string; url?: string });
      expect(warnings).toEqual([
        expect.objectContaining({ level: 'warn', variable: 'ALLOW_INSECURE_HTTP' }),
        expect.objectContaining({
          level: 'warn',
          variable: 'FORTELLIS_ISSUER',
          url: 'http://127.0.0.1:9/oauth2/aus1p1ixy7YL8cMq02p7',
        }),
        expect.objectContaining({
          level: 'warn',
          variable: 'FORTELLIS_JWKS_URL',
          url: 'http://[redacted]@127.0.0.1:9/v1/keys',
        }),
      ]);
      expect(service.output()).not.toContain('jwks-pass');
    });

    it("refuses the simulator's published client id, naming the variable and never the value", async () => {
      const result = await runServiceToExit('ingress', {
        ...production(0),
        FORTELLIS_CLIENT_ID: 'sim-provider-client',
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        'ingress: invalid configuration: FORTELLIS_CLIENT_ID holds a value the simulator publishes for tests; set your own when NODE_ENV=production\n',
      );
      expect(result.stdout).toBe('');
    });

    it('outside production, http: URLs and the simulator values are accepted without a word', async () => {
      const port = await freePort();
      const service = await startService('ingress', {
        ...validEnv(port),
        FORTELLIS_CLIENT_ID: 'sim-provider-client',
      });
      await service.stop();
      expect(service.output()).not.toContain('insecure_setting');
    });
  });

  describe('a password inside REDIS_URL never reaches the output', () => {
    it('a URL the pattern refuses: named, the value shown with its credentials redacted', async () => {
      const result = await runServiceToExit('ingress', {
        ...validEnv(0),
        REDIS_URL: 'http://admin:Pa55-w0rd-Redis@redis.internal:6379',
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        'ingress: invalid configuration: REDIS_URL must match pattern "^rediss?://" (got "http://[redacted]@redis.internal:6379")\n',
      );
    });

    it('a URL the pattern accepts but the Redis client cannot parse: start fails, the password is not logged', async () => {
      const result = await runServiceToExit('ingress', {
        ...validEnv(0),
        REDIS_URL: 'redis://admin:Pa55-w0rd-Redis@redis.internal:notaport',
      });
      expect(result.code).toBe(1);
      expect(result.stdout).toContain('"msg":"ingress failed to start"');
      expect(result.stdout).toContain('redis://[redacted]@redis.internal:notaport');
      expect(result.stdout + result.stderr).not.toContain('Pa55-w0rd-Redis');
    });
  });

  it('refuses a malformed PORT, naming it and the value', async () => {
    const result = await runServiceToExit('ingress', { ...validEnv(0), PORT: 'http' });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'ingress: invalid configuration: PORT must be integer (got "http")\n',
    );
  });
});
