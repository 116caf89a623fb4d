// The simulated subscriptions API, integration platform and provider backend: they check
// credentials and contracts, record every call, and apply scripted faults in order.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startSimulator, type Simulator } from '../src/index.ts';

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ backendAuth: { header: 'x-api-key', value: 'backend-secret' } });
});
afterAll(async () => {
  await sim.stop();
});
beforeEach(() => {
  sim.faults.clear();
});

const basic = (id: string, secret: string) =>
  `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
const connectionId = '2529a384-add3-4b6a-a935-ed09e45def12';

async function fortellisToken(): Promise<string> {
  const response = await fetch(sim.identity.tokenUrl, {
    method: 'POST',
    headers: {
      authorization: basic(sim.providerClient.clientId, sim.providerClient.clientSecret),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials&scope=anonymous',
  });
  return ((await response.json()) as { access_token: string }).access_token;
}

async function integrationToken(): Promise<string> {
  const response = await fetch(`${sim.url}/api/2/idp/token`, {
    method: 'POST',
    headers: {
      authorization: basic(sim.integrationClient.clientId, sim.integrationClient.clientSecret),
      'content-type': 'application/x-www-form-urlencoded',
    },
    body: 'grant_type=client_credentials',
  });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { access_token: string; expires_in: number };
  expect(body.expires_in).toBe(7200);
  return body.access_token;
}

function callback(token: string | undefined, body: unknown, id = connectionId) {
  return request(`${sim.url}/connections/${id}/callback`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      'request-id': 'req-1',
    },
    body: JSON.stringify(body),
  });
}

describe('subscriptions: connection callback', () => {
  it('answers 200 with the text OK and records headers, body and time', async () => {
    const token = await fortellisToken();
    const before = sim.count('callback');
    const response = await callback(token, { status: 'accepted' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^text\/plain/);
    expect(await response.body.text()).toBe('OK');
    const call = sim.calls('callback').at(-1)!;
    expect(sim.count('callback')).toBe(before + 1);
    expect(call).toMatchObject({
      params: { connectionId },
      body: { status: 'accepted' },
      headers: { 'request-id': 'req-1', authorization: `Bearer ${token}` },
      status: 200,
    });
    expect(call.at).toBeInstanceOf(Date);
  });

  it('refuses a missing, foreign or expired token with 401', async () => {
    expect((await callback(undefined, { status: 'accepted' })).statusCode).toBe(401);
    const foreign = sim.identity.mint(sim.providerClient.clientId);
    expect((await callback(foreign, { status: 'accepted' })).statusCode).toBe(401);
    const token = await fortellisToken();
    sim.identity.expireAccessTokens();
    expect((await callback(token, { status: 'accepted' })).statusCode).toBe(401);
  });

  it('refuses a body outside the contract with 400', async () => {
    const token = await fortellisToken();
    const response = await callback(token, { status: 'maybe' });
    expect(response.statusCode).toBe(400);
    expect(await response.body.json()).toMatchObject({ code: 400 });
  });

  it('applies scripted failures in order, then answers normally', async () => {
    const token = await fortellisToken();
    sim.faults.failNext('callback', 503, 2).failNext('callback', 404);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i += 1)
      statuses.push((await callback(token, { status: 'accepted' })).statusCode);
    expect(statuses).toEqual([503, 503, 404, 200]);
    expect(
      sim
        .calls('callback')
        .slice(-4)
        .map((call) => call.status),
    ).toEqual([503, 503, 404, 200]);
  });

  it('answers 429 with Retry-After', async () => {
    const token = await fortellisToken();
    sim.faults.throttleNext('callback', 2);
    const response = await callback(token, { status: 'accepted' });
    expect(response.statusCode).toBe(429);
    expect(response.headers['retry-after']).toBe('2');
  });

  it('delays, hangs past a client timeout, and resets the connection', async () => {
    const token = await fortellisToken();
    sim.faults.add('callback', { kind: 'delay', ms: 300 });
    const started = performance.now();
    expect((await callback(token, { status: 'accepted' })).statusCode).toBe(200);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);

    sim.faults.add('callback', { kind: 'hang' });
    await expect(
      request(`${sim.url}/connections/${connectionId}/callback`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: '{"status":"accepted"}',
        headersTimeout: 300,
      }),
    ).rejects.toMatchObject({ code: 'UND_ERR_HEADERS_TIMEOUT' });

    sim.faults.add('callback', { kind: 'reset' });
    await expect(callback(token, { status: 'accepted' })).rejects.toMatchObject({
      code: expect.stringMatching(/ECONNRESET|UND_ERR_SOCKET/),
    });
    expect(
      sim
        .calls('callback')
        .slice(-2)
        .map((call) => call.fault?.kind),
    ).toEqual(['hang', 'reset']);
  });
});

describe('integration platform', () => {
  const body = {
    application_code: 'vendor.application',
    module: { name: 'Integration backend', version: '1.0.0' },
    vendor_system: { name: 'Product integrated', version: '22.04.1' },
    events: [
      { category: 'activation', action: 'deactivated integration', deactivation_event: true },
    ],
  };

  function report(token: string | undefined, payload: unknown, tenant = sim.integrationTenantId) {
    return request(`${sim.url}/api/integration_management/v2/status?tenantID=${tenant}`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
      },
      body: JSON.stringify(payload),
    });
  }

  it('answers 204 to a valid report and records it with its tenant', async () => {
    const token = await integrationToken();
    const response = await report(token, body);
    expect(response.statusCode).toBe(204);
    expect(sim.calls('status').at(-1)).toMatchObject({
      query: { tenantID: sim.integrationTenantId },
      body,
      status: 204,
    });
  });

  it('refuses an unknown token with 401 and a body outside the contract with 400', async () => {
    expect((await report('idp.forged', body)).statusCode).toBe(401);
    const token = await integrationToken();
    expect((await report(token, { ...body, application_id: 'both' })).statusCode).toBe(400);
    sim.expireIntegrationTokens();
    expect((await report(token, body)).statusCode).toBe(401);
  });

  it('refuses wrong client credentials at the token endpoint', async () => {
    const response = await fetch(`${sim.url}/api/2/idp/token`, {
      method: 'POST',
      headers: {
        authorization: basic('x', 'y'),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: 'grant_type=client_credentials',
    });
    expect(response.status).toBe(401);
  });

  it('applies scripted failures in order', async () => {
    const token = await integrationToken();
    sim.faults.failNext('status', 503, 2);
    const statuses = [];
    for (let i = 0; i < 3; i += 1) statuses.push((await report(token, body)).statusCode);
    expect(statuses).toEqual([503, 503, 204]);
  });
});

describe('provider backend', () => {
  it('records deprovision calls and checks its credentials', async () => {
    const payload = { connectionId, subscriptionId: '2529a384-acc3-4b6a-a835-ed09e77dee15' };
    const ok = await request(`${sim.url}/backend/deprovision`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': 'backend-secret' },
      body: JSON.stringify(payload),
    });
    expect(ok.statusCode).toBe(200);
    await ok.body.dump();
    const denied = await request(`${sim.url}/backend/deprovision`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(payload),
    });
    expect(denied.statusCode).toBe(401);
    await denied.body.dump();
    expect(sim.calls('deprovision').map((call) => [call.status, call.body])).toEqual([
      [200, payload],
      [401, payload],
    ]);
  });

  const provision = () =>
    request(`${sim.url}/backend/provision`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-api-key': 'backend-secret',
        'idempotency-key': connectionId,
      },
      body: JSON.stringify({ connectionId }),
    });

  it('answers a scripted 2xx that breaks the contract, as written', async () => {
    const answer = { accountId: 'a', credentials: { pin: 4242 }, extra: true };
    sim.faults.answerNext('provision', 201, answer);
    const response = await provision();
    expect(response.statusCode).toBe(201);
    expect(await response.body.json()).toEqual(answer);
  });

  it('answers 429 with a Retry-After written as an HTTP date', async () => {
    const date = new Date(Date.now() - 60_000).toUTCString();
    sim.faults.add('provision', { kind: 'status', status: 429, retryAfter: date });
    const response = await provision();
    expect(response.statusCode).toBe(429);
    expect(response.headers['retry-after']).toBe(date);
    await response.body.dump();
  });

  it.each([
    ['with its length declared', false],
    ['streamed without a length', true],
  ])('answers an oversized body %s', async (_how, chunked) => {
    sim.faults.add('provision', { kind: 'oversized', status: 200, bytes: 1024 * 1024, chunked });
    const response = await provision();
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-length']).toBe(chunked ? undefined : String(1024 * 1024));
    const text = await response.body.text();
    expect(text.length).toBe(1024 * 1024);
    expect(JSON.parse(text)).toHaveProperty('pad');
  });
});

describe('env()', () => {
  it('points every service setting at the simulator', () => {
    const env = sim.env();
    expect(env.FORTELLIS_JWKS_URL).toBe(`${sim.url}/oauth2/aus1p1ixy7YL8cMq02p7/v1/keys`);
    expect(env.FORTELLIS_CALLBACK_BASE_URL).toBe(sim.url);
    expect(env.BACKEND_DEPROVISION_URL).toBe(`${sim.url}/backend/deprovision`);
    expect(env.BACKEND_DEPROVISION_SECRET).toBe('backend-secret');
    expect(env.INTEGRATION_STATUS_BASE_URL).toBe(sim.url);
  });
});
