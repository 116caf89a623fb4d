// Component tests of the ingress against real Redis and the simulator's identity provider.
import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { contracts, jobIdFor, type ActivateRequest } from '@fortellis-admin/contracts';
import {
  ActivationGenerator,
  startSimulator,
  type MintOptions,
  type Simulator,
} from '@fortellis-admin/simulator';
import { createTestNamespace } from '@fortellis-admin/test-support';
import { ALL_QUEUES, startHarness, type Harness } from './ingress-harness.ts';

const ns = createTestNamespace('ingress');
let sim: Simulator;
let h: Harness;
const generator = new ActivationGenerator(2024);

beforeAll(async () => {
  sim = await startSimulator();
  h = await startHarness({
    redisUrl: inject('redisUrl'),
    sim,
    prefix: ns.queuePrefix,
    basePath: '/fortellis',
    publicBaseUrl: 'https://provider.example.com',
  });
});
afterAll(async () => {
  await h.close();
  await sim.stop();
});
beforeEach(async () => {
  for (const name of ALL_QUEUES) await h.queue(name).obliterate({ force: true });
});

const token = (options?: MintOptions) => sim.identity.mint(sim.providerClient.clientId, options);

function activate(body: unknown, headers: Record<string, string> = {}) {
  return h.app.inject({
    method: 'POST',
    url: '/fortellis/activate',
    headers: {
      authorization: `Bearer ${token()}`,
      'content-type': 'application/json',
      'request-id': 'f1c2e1a0-0000-4000-8000-000000000001',
      ...headers,
    },
    payload: typeof body === 'string' ? body : JSON.stringify(body),
  });
}

function deactivate(connectionId: string, headers: Record<string, string> = {}) {
  return h.app.inject({
    method: 'POST',
    url: `/fortellis/deactivate/${connectionId}`,
    headers: { authorization: `Bearer ${token()}`, ...headers },
  });
}

async function jobCount(): Promise<number> {
  let n = 0;
  for (const name of ALL_QUEUES) n += (await h.jobs(name)).length;
  return n;
}

describe('acknowledging genuine, valid calls', () => {
  it('a valid activate gives 200, links, the echoed Request-Id, and exactly one job with the expected data', async () => {
    const payload = generator.next();
    const bearer = token();
    const response = await activate(payload, { authorization: `Bearer ${bearer}` });
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.headers['request-id']).toBe('f1c2e1a0-0000-4000-8000-000000000001');
    const body = response.json();
    expect(contracts.linksResponse.issues(body)).toEqual([]);
    expect(body.links[0]).toEqual({
      href: 'https://provider.example.com/fortellis/activate',
      rel: 'self',
      method: 'POST',
      title: expect.any(String),
    });
    expect(body.links[1].href).toBe(
      `https://provider.example.com/fortellis/deactivate/${payload.connectionId}`,
    );

    const jobs = await h.jobs('approval');
    expect(jobs).toHaveLength(1);
    const claims = JSON.parse(Buffer.from(bearer.split('.')[1]!, 'base64url').toString()) as {
      jti: string;
    };
    expect(jobs[0]).toEqual({
      id: jobIdFor.activationReceived({ activation: payload }),
      name: 'ActivationReceived',
      data: {
        activation: payload,
        requestId: 'f1c2e1a0-0000-4000-8000-000000000001',
        receivedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        token: { jti: claims.jti, sub: sim.providerClient.clientId },
      },
    });
    expect(contracts.activationReceivedJob.is(jobs[0]!.data)).toBe(true);
    expect(await h.jobs('deprovision')).toHaveLength(0);
  });

  it('a valid deactivate gives 200 and exactly one DeactivationReceived job', async () => {
    const connectionId = generator.next().connectionId;
    const response = await deactivate(connectionId, { 'request-id': 'req-deactivate-1' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['request-id']).toBe('req-deactivate-1');
    expect(response.json().links[0]).toMatchObject({
      rel: 'self',
      href: `https://provider.example.com/fortellis/deactivate/${connectionId}`,
    });
    const jobs = await h.jobs('deprovision');
    expect(jobs).toEqual([
      {
        id: `deactivation-${connectionId}`,
        name: 'DeactivationReceived',
        data: {
          connectionId,
          requestId: 'req-deactivate-1',
          receivedAt: expect.any(String),
          token: { jti: expect.stringMatching(/^AT\./), sub: sim.providerClient.clientId },
        },
      },
    ]);
  });

  it('the same call delivered twice gives one job', async () => {
    const payload = generator.next();
    expect((await activate(payload)).statusCode).toBe(200);
    expect((await activate(payload, { 'request-id': 'another-delivery' })).statusCode).toBe(200);
    const connectionId = generator.next().connectionId;
    expect((await deactivate(connectionId)).statusCode).toBe(200);
    expect((await deactivate(connectionId)).statusCode).toBe(200);
    expect(await h.jobs('approval')).toHaveLength(1);
    expect(await h.jobs('deprovision')).toHaveLength(1);
  });

  it('makes a Request-Id when the caller sends none, and echoes it', async () => {
    const response = await h.app.inject({
      method: 'POST',
      url: `/fortellis/deactivate/${generator.next().connectionId}`,
      headers: { authorization: `Bearer ${token()}` },
    });
    expect(response.statusCode).toBe(200);
    expect(response.headers['request-id']).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    const [job] = await h.jobs('deprovision');
    expect((job!.data as { requestId: string }).requestId).toBe(response.headers['request-id']);
  });

  it('accepts a payload without entityInfo/solutionInfo and with unknown members', async () => {
    const payload = { ...generator.next(), somethingNew: { x: 1 } } as ActivateRequest;
    expect((await activate(payload)).statusCode).toBe(200);
  });

  it('accepts an empty JSON-typed body on deactivate (the tutorial sends one)', async () => {
    const response = await deactivate(generator.next().connectionId, {
      'content-type': 'application/json',
    });
    expect(response.statusCode).toBe(200);
  });
});

describe('refusing every forged or missing token with 403 and no job', () => {
  const cases: Array<[string, () => Record<string, string>]> = [
    [
      'a wrong issuer',
      () => ({
        authorization: `Bearer ${token({ claims: { iss: 'https://identity-dev.fortellis.io/oauth2/aus1ni5i9n9WkzcYa2p7' } })}`,
      }),
    ],
    [
      'a wrong audience',
      () => ({ authorization: `Bearer ${token({ claims: { aud: 'another_audience' } })}` }),
    ],
    [
      'another provider as subject',
      () => ({
        authorization: `Bearer ${token({ claims: { sub: 'other-provider', cid: 'other-provider' } })}`,
      }),
    ],
    [
      'another subject with our cid',
      () => ({ authorization: `Bearer ${token({ claims: { sub: 'other-provider' } })}` }),
    ],
    [
      'a cid of another client',
      () => ({ authorization: `Bearer ${token({ claims: { cid: 'other-client' } })}` }),
    ],
    [
      'an expired token',
      () => ({
        authorization: `Bearer ${token({ claims: { iat: 1_700_000_000, exp: 1_700_003_600 } })}`,
      }),
    ],
    [
      'a token expired 61 s ago (past the tolerance)',
      () => ({
        authorization: `Bearer ${token({ claims: { exp: Math.floor(Date.now() / 1000) - 61 } })}`,
      }),
    ],
    [
      'a token not yet valid',
      () => ({
        authorization: `Bearer ${token({ claims: { nbf: Math.floor(Date.now() / 1000) + 300 } })}`,
      }),
    ],
    ['alg none', () => ({ authorization: `Bearer ${token({ signing: 'alg-none' })}` })],
    [
      'HS256 signed with the public key',
      () => ({ authorization: `Bearer ${token({ signing: 'hs256-with-public-key' })}` }),
    ],
    ['an unknown kid', () => ({ authorization: `Bearer ${token({ signing: 'unknown-key' })}` })],
    [
      'a tampered signature',
      () => ({ authorization: `Bearer ${token({ signing: 'tampered-signature' })}` }),
    ],
    ['no Authorization header', () => ({ authorization: '' })],
    ['a Basic Authorization header', () => ({ authorization: 'Basic c2ltOnNpbQ==' })],
    ['a Bearer header with garbage', () => ({ authorization: 'Bearer not a token' })],
  ];

  it.each(cases)('%s', async (_name, headers) => {
    const sent = headers();
    const payload = generator.next();
    const responses = [await activate(payload, sent), await deactivate(payload.connectionId, sent)];
    for (const response of responses) {
      expect(response.statusCode).toBe(403);
      const body = response.json();
      expect(body).toMatchObject({
        code: 403,
        error: 'AUTHENTICATION_FAILED',
        message: expect.any(String),
      });
      expect(contracts.errorResponse.is(body)).toBe(true);
      const presented = sent.authorization?.replace(/^\w+ /, '') ?? '';
      if (presented.length > 8) expect(response.body).not.toContain(presented.slice(-16));
    }
    expect(await jobCount()).toBe(0);
  });

  it('refuses before reading the body: a huge body without a token is 403, not 413', async () => {
    const response = await activate('x'.repeat(200_000), { authorization: '' });
    expect(response.statusCode).toBe(403);
  });

  it('accepts a token that expired less than 60 s ago (clock tolerance)', async () => {
    const response = await activate(generator.next(), {
      authorization: `Bearer ${token({ claims: { exp: Math.floor(Date.now() / 1000) - 30 } })}`,
    });
    expect(response.statusCode).toBe(200);
  });

  it('counts failures by reason in the logs, never logging the token', async () => {
    const forged = token({ signing: 'tampered-signature' });
    await deactivate(generator.next().connectionId, { authorization: `Bearer ${forged}` });
    const line = h.logs.filter((l) => l.includes('"event":"auth_failure"')).at(-1)!;
    expect(JSON.parse(line)).toMatchObject({
      reason: 'bad_signature',
      countForReason: expect.any(Number),
      requestId: expect.any(String),
    });
    expect(h.logs.join('')).not.toContain(forged.split('.')[2]);
    expect(h.authFailures.get('bad_signature')).toBeGreaterThanOrEqual(1);
  });
});

describe('validation', () => {
  it('400 names the first problems with JSON pointers', async () => {
    const payload = generator.next() as Record<string, unknown>;
    delete payload.subscriptionId;
    (payload.userInfo as Record<string, unknown>).fortellisId = 'not-an-email';
    const response = await activate(payload);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      code: 400,
      error: 'CONTRACT_VIOLATION',
      message:
        'activate request is invalid: /subscriptionId is required; /userInfo/fortellisId must be a valid email',
    });
  });

  it.each([
    [
      'a JSON string',
      JSON.stringify(JSON.stringify({ connectionId: 'x' })),
      400,
      'CONTRACT_VIOLATION',
    ],
    ['an array', '[]', 400, 'CONTRACT_VIOLATION'],
    ['malformed JSON', '{"organizationInfo": ', 400, 'MALFORMED_JSON'],
    ['an empty body', '', 400, 'CONTRACT_VIOLATION'],
    ['a prototype-poisoning body', '{"__proto__": {"polluted": true}}', 400, 'MALFORMED_JSON'],
  ])('%s gives %i and no job', async (_name, body, status, error) => {
    const response = await activate(body);
    expect(response.statusCode).toBe(status);
    expect(response.json()).toMatchObject({ code: status, error });
    expect(await jobCount()).toBe(0);
  });

  it('judges a body on what it holds whatever its type: text/plain with malformed JSON gives 400, not 415', async () => {
    const malformed = await activate('{"organizationInfo": ', { 'content-type': 'text/plain' });
    expect(malformed.statusCode).toBe(400);
    expect(malformed.json()).toMatchObject({ code: 400, error: 'MALFORMED_JSON' });
    const invalid = await activate(JSON.stringify({ connectionId: 'x' }), {
      'content-type': 'text/plain',
    });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json()).toMatchObject({ code: 400, error: 'CONTRACT_VIOLATION' });
    const huge = await activate(
      { ...generator.next(), padding: 'x'.repeat(70 * 1024) },
      {
        'content-type': 'text/plain',
      },
    );
    expect(huge.statusCode).toBe(413);
    expect(await jobCount()).toBe(0);
  });

  it('a body over 64 KiB gives 413', async () => {
    const payload = { ...generator.next(), padding: 'x'.repeat(70 * 1024) };
    const response = await activate(payload);
    expect(response.statusCode).toBe(413);
    expect(response.json()).toMatchObject({ code: 413, error: 'PAYLOAD_TOO_LARGE' });
    expect(await jobCount()).toBe(0);
  });

  it('a connectionId path parameter that is not a GUID gives 400', async () => {
    const response = await deactivate('not-a-guid');
    expect(response.statusCode).toBe(400);
    expect(response.json()).toEqual({
      code: 400,
      error: 'CONTRACT_VIOLATION',
      message: 'deactivate request is invalid: /connectionId must be a valid guid',
    });
    expect(await jobCount()).toBe(0);
  });

  it('serves only under the base path; other paths answer 404 in the error format', async () => {
    const response = await h.app.inject({
      method: 'POST',
      url: '/activate',
      headers: { authorization: `Bearer ${token()}` },
    });
    expect(response.statusCode).toBe(404);
    expect(response.json()).toMatchObject({ code: 404, error: 'ROUTE_NOT_FOUND' });
  });
});

describe('any declared Content-Type, once the token is verified', () => {
  // What callers have been seen to send, and what they might: none of them is refused for it.
  const declared: Array<[string, string | undefined]> = [
    ['no Content-Type', undefined],
    ['text/plain', 'text/plain'],
    ['text/plain with a charset', 'text/plain; charset=utf-8'],
    ['application/json with a charset', 'application/json; charset=utf-8'],
    ['application/json;charset=UTF-8', 'application/json;charset=UTF-8'],
    ['a quoted charset', 'application/json; charset="utf-8"'],
    ['upper case', 'Application/JSON'],
    ['a form type with a JSON body', 'application/x-www-form-urlencoded'],
    ['multipart with a JSON body', 'multipart/form-data; boundary=xyz'],
    ['application/octet-stream', 'application/octet-stream'],
    ['not a media type at all', 'whatever'],
  ];

  function send(body: string, contentType: string | undefined, authorization: string) {
    return h.app.inject({
      method: 'POST',
      url: '/fortellis/activate',
      headers: {
        authorization,
        ...(contentType === undefined ? {} : { 'content-type': contentType }),
      },
      payload: body,
    });
  }

  it.each(declared)(
    '%s: a valid body is accepted, stored once, the type logged',
    async (_n, type) => {
      const payload = generator.next();
      const response = await send(JSON.stringify(payload), type, `Bearer ${token()}`);
      expect(response.statusCode).toBe(200);
      expect(response.headers['content-type']).toMatch(/^application\/json/);
      expect(contracts.linksResponse.issues(response.json())).toEqual([]);
      const jobs = await h.jobs('approval');
      expect(jobs.map((job) => (job.data as { activation: unknown }).activation)).toEqual([
        payload,
      ]);
      const line = h.logs
        .filter((l) => l.includes('"msg":"request completed"') && l.includes(payload.connectionId))
        .at(-1);
      expect(JSON.parse(line!).contentType).toBe(type);
    },
  );

  it.each(declared)(
    '%s: without a valid token it is still 403 and nothing is stored',
    async (_n, type) => {
      const body = JSON.stringify(generator.next());
      for (const authorization of ['', `Bearer ${token({ signing: 'tampered-signature' })}`]) {
        const response = await send(body, type, authorization);
        expect(response.statusCode).toBe(403);
        expect(response.json()).toMatchObject({ code: 403, error: 'AUTHENTICATION_FAILED' });
      }
      expect(await jobCount()).toBe(0);
    },
  );

  it('a deactivation ignores whatever body comes with it', async () => {
    for (const [type, body] of [
      ['text/plain', 'not json'],
      ['application/json', '{"broken": '],
      [undefined, 'x'],
    ] as const) {
      const connectionId = generator.next().connectionId;
      const response = await h.app.inject({
        method: 'POST',
        url: `/fortellis/deactivate/${connectionId}`,
        headers: {
          authorization: `Bearer ${token()}`,
          ...(type === undefined ? {} : { 'content-type': type }),
        },
        payload: body,
      });
      expect(response.statusCode).toBe(200);
    }
    expect(await h.jobs('deprovision')).toHaveLength(3);
  });
});

describe('Prefer (RFC 7240)', () => {
  const fullLink = {
    href: expect.any(String),
    rel: expect.any(String),
    method: 'POST',
    title: expect.any(String),
  };

  it('return=minimal: 200 with only href and rel of each link, Preference-Applied, same headers', async () => {
    const payload = generator.next();
    const response = await activate(payload, { prefer: 'return=minimal' });
    expect(response.statusCode).toBe(200);
    expect(response.headers['preference-applied']).toBe('return=minimal');
    expect(response.headers['content-type']).toMatch(/^application\/json/);
    expect(response.headers['request-id']).toBe('f1c2e1a0-0000-4000-8000-000000000001');
    expect(response.headers.vary).toMatch(/prefer/i);
    expect(response.json()).toEqual({
      links: [
        { href: 'https://provider.example.com/fortellis/activate', rel: 'self' },
        {
          href: `https://provider.example.com/fortellis/deactivate/${payload.connectionId}`,
          rel: 'deactivate',
        },
      ],
    });
    expect(contracts.linksResponse.issues(response.json())).toEqual([]);
    expect(await h.jobs('approval')).toHaveLength(1);

    const deactivation = await deactivate(payload.connectionId, { prefer: 'return=minimal' });
    expect(deactivation.headers['preference-applied']).toBe('return=minimal');
    expect(deactivation.json().links[0]).toEqual({
      href: `https://provider.example.com/fortellis/deactivate/${payload.connectionId}`,
      rel: 'self',
    });
  });

  it.each([
    ['respond-async, RETURN="minimal"; foo=bar', true],
    ['return=minimal, return=representation', true],
    ['return=representation, return=minimal', false],
    ['return=representation', false],
    ['handling=lenient', false],
  ])('Prefer: %s applies minimal: %s', async (prefer, minimal) => {
    const response = await activate(generator.next(), { prefer });
    expect(response.statusCode).toBe(200);
    expect(response.headers['preference-applied']).toBe(minimal ? 'return=minimal' : undefined);
    expect(response.json().links[0]).toEqual(
      minimal ? { href: expect.any(String), rel: 'self' } : { ...fullLink, rel: 'self' },
    );
  });

  it('without Prefer: the full links and no Preference-Applied', async () => {
    const response = await activate(generator.next());
    expect(response.headers['preference-applied']).toBeUndefined();
    expect(response.json().links).toEqual([fullLink, fullLink]);
  });

  it('a refusal applies no preference', async () => {
    const response = await activate(generator.next(), {
      prefer: 'return=minimal',
      authorization: '',
    });
    expect(response.statusCode).toBe(403);
    expect(response.headers['preference-applied']).toBeUndefined();
    expect(response.headers['content-type']).toMatch(/^application\/json/);
  });
});

describe('health', () => {
  it('the monitoring listener: /health is up and /ready checks Redis and the JWKS', async () => {
    const health = await fetch(`${h.monitoringUrl}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'up' });
    const ready = await fetch(`${h.monitoringUrl}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ready',
      checks: { redis: 'up', jwks: 'up', accepting: 'up' },
    });
  });

  it('the Fortellis-facing port serves neither /health nor /ready (404), with or without a token', async () => {
    for (const url of ['/health', '/ready', '/fortellis/health', '/fortellis/ready', '/metrics']) {
      for (const headers of [{}, { authorization: `Bearer ${token()}` }]) {
        const response = await h.app.inject({ method: 'GET', url, headers });
        expect(response.statusCode, url).toBe(404);
        expect(response.json()).toMatchObject({ code: 404, error: 'ROUTE_NOT_FOUND' });
      }
    }
  });
});

describe('logs', () => {
  it('never contain the token or the personal data of an activation', async () => {
    const payload = generator.next();
    const bearer = token();
    await activate(payload, { authorization: `Bearer ${bearer}` });
    const all = h.logs.join('');
    expect(all).toContain(payload.connectionId);
    for (const secret of [
      bearer,
      payload.userInfo.fortellisId,
      payload.organizationInfo.phoneNumber,
      payload.organizationInfo.address,
    ]) {
      expect(all).not.toContain(secret);
    }
  });
});
