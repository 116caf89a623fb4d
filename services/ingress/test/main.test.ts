// The ingress process: starts with a valid environment, serves its metrics on its monitoring
// listener, stops on SIGTERM, refuses a bad one.
import { missingMetrics } from '@fortellis-admin/service-kit';
import { describe, expect, inject, it } from 'vitest';
import {
  createTestNamespace,
  freePort,
  runServiceToExit,
  startService,
} from '@fortellis-admin/test-support';

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
  it('starts with a valid environment, answers /health, and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const service = await startService('ingress', validEnv(port));
    const response = await fetch(`http://127.0.0.1:${port}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'up' });
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
    const port = await freePort();
    const service = await startService('ingress', {
      ...validEnv(port),
      MONGODB_URL: 'not a url',
      OPS_API_TOKENS: 'not tokens',
    });
    try {
      expect((await fetch(`http://127.0.0.1:${port}/health`)).status).toBe(200);
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
        `ingress: invalid configuration: ${variable} is required but not set\n`,
      );
      expect(result.stdout).toBe('');
    },
  );

  it('refuses a malformed PORT, naming it and the value', async () => {
    const result = await runServiceToExit('ingress', { ...validEnv(0), PORT: 'http' });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'ingress: invalid configuration: PORT must be integer (got "http")\n',
    );
  });
});
