// Fortellis as a caller: realistic seeded payloads that satisfy the contract, valid tokens,
// the headers Fortellis sends, streams at a concurrency or rate, and the CLI that drives it.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import { contracts } from '@fortellis-admin/contracts';
import { freePort, startProcess, waitForPort } from '@fortellis-admin/test-support';
import {
  ActivationGenerator,
  FortellisCaller,
  startSimulator,
  type Simulator,
} from '../src/index.ts';

interface Captured {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

let sim: Simulator;
let server: Server;
let providerUrl: string;
const captured: Captured[] = [];

beforeAll(async () => {
  sim = await startSimulator();
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
    req.on('end', () => {
      captured.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      res.writeHead(200, {
        'content-type': 'application/json',
        'request-id': String(req.headers['request-id']),
      });
      res.end(JSON.stringify({ links: [{ href: '/x', rel: 'self' }] }));
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address() as { port: number };
  providerUrl = `http://127.0.0.1:${address.port}/fortellis`;
});

afterAll(async () => {
  server.close();
  await sim.stop();
});

describe('payload generator', () => {
  it('produces distinct payloads that satisfy the activate contract', () => {
    const generator = new ActivationGenerator(42);
    const payloads = Array.from({ length: 200 }, () => generator.next());
    for (const payload of payloads) expect(contracts.activateRequest.issues(payload)).toEqual([]);
    expect(new Set(payloads.map((p) => p.connectionId)).size).toBe(200);
    expect(new Set(payloads.map((p) => p.subscriptionId)).size).toBe(200);
  });

  it('is deterministic for a seed and differs between seeds', () => {
    const a = new ActivationGenerator(7);
    const b = new ActivationGenerator(7);
    const c = new ActivationGenerator(8);
    const first = a.next();
    expect(b.next()).toEqual(first);
    expect(c.next().connectionId).not.toBe(first.connectionId);
  });
});

describe('FortellisCaller', () => {
  it('sends activate and deactivate with a valid token and the Fortellis headers', async () => {
    captured.length = 0;
    const caller = new FortellisCaller({
      adminApiUrl: providerUrl,
      token: () => sim.identity.mint(sim.providerClient.clientId),
      seed: 3,
    });
    const activation = await caller.activate();
    const deactivation = await caller.deactivate(activation.connectionId);
    await caller.close();
    expect([activation.status, deactivation.status]).toEqual([200, 200]);
    expect(captured.map((c) => `${c.method} ${c.url}`)).toEqual([
      'POST /fortellis/activate',
      `POST /fortellis/deactivate/${activation.connectionId}`,
    ]);
    const [activate, deactivate] = captured as [Captured, Captured];
    expect(activate.headers).toMatchObject({
      accept: 'application/json',
      'accept-charset': 'utf-8',
      'content-type': 'application/json',
      prefer: 'return=representation',
      'request-id': activation.requestId,
    });
    expect(contracts.activateRequest.is(JSON.parse(activate.body))).toBe(true);
    expect(deactivate.body).toBe('');
    const jwks = createRemoteJWKSet(new URL(sim.identity.jwksUrl));
    const token = String(activate.headers.authorization).replace(/^Bearer /, '');
    const { payload } = await jwtVerify(token, jwks, {
      issuer: sim.identity.issuer,
      audience: 'api_providers',
      subject: sim.providerClient.clientId,
    });
    expect(payload.scp).toEqual(['anonymous']);
    expect(activation.headers['request-id']).toBe(activation.requestId);
  });

  it('streams distinct activations at a concurrency', async () => {
    captured.length = 0;
    const caller = new FortellisCaller({
      adminApiUrl: providerUrl,
      token: () => 'reused-token',
      seed: 11,
    });
    const results = await caller.activateMany({ count: 50, concurrency: 8 });
    await caller.close();
    expect(results.filter((r) => r.status === 200)).toHaveLength(50);
    expect(
      new Set(captured.map((c) => (JSON.parse(c.body) as { connectionId: string }).connectionId))
        .size,
    ).toBe(50);
  });

  it('paces a stream at the given rate', async () => {
    const caller = new FortellisCaller({ adminApiUrl: providerUrl, token: () => 't' });
    const started = performance.now();
    await caller.activateMany({ count: 6, rate: 20 });
    await caller.close();
    // Six calls at 20/s start over 250 ms: the last one no earlier than 5 intervals in.
    expect(performance.now() - started).toBeGreaterThanOrEqual(245);
  });

  it('reports a call that got no answer as status 0 with the error', async () => {
    const port = await freePort();
    const caller = new FortellisCaller({
      adminApiUrl: `http://127.0.0.1:${port}`,
      token: () => 't',
    });
    const result = await caller.deactivate('2529a384-add3-4b6a-a935-ed09e45def12');
    await caller.close();
    expect(result.status).toBe(0);
    expect(result.error).toMatch(/ECONNREFUSED/);
  });
});

describe('CLI', () => {
  const cli = fileURLToPath(new URL('../src/cli.ts', import.meta.url));

  function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    const child = spawn(process.execPath, [cli, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    return once(child, 'exit').then(([code]) => ({ code: code as number | null, stdout, stderr }));
  }

  it('serves, prints the environment, and drives activations and matching deactivations', async () => {
    const port = await freePort();
    const serve = startProcess(process.execPath, [cli, 'serve', '--port', String(port)]);
    try {
      await waitForPort(port, 10_000, serve.child);
      await expect.poll(() => serve.output(), { timeout: 5000 }).toContain('FORTELLIS_JWKS_URL=');
      expect(serve.output()).toContain(`simulator listening on http://127.0.0.1:${port}`);

      captured.length = 0;
      const simUrl = `http://127.0.0.1:${port}`;
      const activate = await run([
        'activate',
        '--to',
        providerUrl,
        '--count',
        '3',
        '--seed',
        '9',
        '--sim',
        simUrl,
      ]);
      expect(activate.code).toBe(0);
      expect(activate.stdout).toContain('activate: 3 × 200');
      const deactivate = await run([
        'deactivate',
        '--to',
        providerUrl,
        '--count',
        '3',
        '--seed',
        '9',
        '--sim',
        simUrl,
      ]);
      expect(deactivate.code).toBe(0);

      const activated = captured
        .filter((c) => c.url.endsWith('/activate'))
        .map((c) => (JSON.parse(c.body) as { connectionId: string }).connectionId);
      const deactivated = captured
        .filter((c) => c.url.includes('/deactivate/'))
        .map((c) => c.url.split('/').at(-1));
      expect(activated).toHaveLength(3);
      expect(deactivated).toEqual(activated);
      const token = String(captured[0]!.headers.authorization).replace(/^Bearer /, '');
      const jwks = createRemoteJWKSet(new URL(`${simUrl}/oauth2/aus1p1ixy7YL8cMq02p7/v1/keys`));
      await expect(jwtVerify(token, jwks, { audience: 'api_providers' })).resolves.toBeDefined();
    } finally {
      await serve.stop();
    }
  });

  it('refuses a bad argument with a usage line and exit code 2', async () => {
    const result = await run(['activate', '--to', providerUrl, '--count', 'many']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^sim: --count must be a positive number, got many/);
  });
});
