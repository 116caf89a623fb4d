// The ingress process: starts with a valid environment, stops on SIGTERM, refuses a bad one.
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

  it('serves the operations API on its own port only, with operator tokens', async () => {
    const [port, opsPort] = [await freePort(), await freePort()];
    const token = 'ops-token-0123456789abcdef0123';
    const service = await startService('ingress', {
      ...validEnv(port),
      OPS_PORT: String(opsPort),
      OPS_API_TOKENS: `alice=${token}`,
      MONGODB_URL: inject('mongoUrl'),
      MONGODB_DATABASE: ns.dbName,
    });
    try {
      const ops = await fetch(`http://127.0.0.1:${opsPort}/ops/connections`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(ops.status).toBe(200);
      expect(await ops.json()).toEqual({ items: [], nextCursor: null });
      expect((await fetch(`http://127.0.0.1:${opsPort}/ops/connections`)).status).toBe(401);
      // Work done on the Fortellis-facing port shows in the metrics of the operations listener.
      expect((await fetch(`http://127.0.0.1:${port}/activate`, { method: 'POST' })).status).toBe(
        403,
      );
      const scrape = async () =>
        (
          await fetch(`http://127.0.0.1:${opsPort}/metrics`, {
            headers: { authorization: `Bearer ${token}` },
          })
        ).text();
      // The request is counted when its response has finished, which may be just after the
      // client has it.
      await expect
        .poll(scrape)
        .toMatch(/^http_requests_total\{route="\/activate",status="403",service="ingress"\} 1$/m);
      const metrics = await scrape();
      expect(metrics).toMatch(
        /^auth_failures_total\{reason="missing_token",service="ingress"\} 1$/m,
      );
      expect(metrics).toContain('# TYPE enqueue_duration_seconds histogram');
      expect((await fetch(`http://127.0.0.1:${opsPort}/metrics`)).status).toBe(401);
      expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(404);
      const leaked = await fetch(`http://127.0.0.1:${port}/ops/connections`, {
        headers: { authorization: `Bearer ${token}` },
      });
      expect(leaked.status).toBe(404);
    } finally {
      await service.stop();
    }
    expect(service.child.exitCode).toBe(0);
  });

  it('needs MONGODB_URL once operator tokens are set', async () => {
    const result = await runServiceToExit('ingress', {
      ...validEnv(0),
      OPS_API_TOKENS: 'alice=ops-token-0123456789abcdef0123',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'ingress: invalid configuration: MONGODB_URL is required but not set\n',
    );
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
