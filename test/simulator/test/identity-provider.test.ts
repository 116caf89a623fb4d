// The simulated Fortellis identity provider: genuine tokens verify with jose against the served
// JWKS; each forged token fails for its own reason; rotation serves the new key.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRemoteJWKSet, decodeJwt, errors, jwtVerify } from 'jose';
import { startSimulator, type Simulator } from '../src/index.ts';

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(async () => {
  await sim.stop();
});

const clientId = () => sim.providerClient.clientId;

async function verify(token: string) {
  const jwks = createRemoteJWKSet(new URL(sim.identity.jwksUrl), { cooldownDuration: 0 });
  return jwtVerify(token, jwks, {
    algorithms: ['RS256'],
    issuer: sim.identity.issuer,
    audience: 'api_providers',
    subject: clientId(),
  });
}

async function failureOf(token: string): Promise<{ code: string; claim?: string }> {
  try {
    await verify(token);
  } catch (error) {
    if (error instanceof errors.JOSEError) {
      const claim =
        error instanceof errors.JWTClaimValidationFailed || error instanceof errors.JWTExpired
          ? error.claim
          : undefined;
      return { code: error.code, ...(claim === undefined ? {} : { claim }) };
    }
    throw error;
  }
  throw new Error('the token verified');
}

describe('identity provider', () => {
  it('mints tokens shaped like Fortellis tokens that verify against the served JWKS', async () => {
    const token = sim.identity.mint(clientId());
    const { payload, protectedHeader } = await verify(token);
    expect(protectedHeader).toMatchObject({ alg: 'RS256', kid: sim.identity.currentKid });
    expect(payload).toMatchObject({
      ver: 1,
      iss: `${sim.url}/oauth2/aus1p1ixy7YL8cMq02p7`,
      aud: 'api_providers',
      cid: clientId(),
      sub: clientId(),
      scp: ['anonymous'],
    });
    expect(payload.jti).toMatch(/^AT\./);
    expect(payload.exp! - payload.iat!).toBe(3600);
  });

  it.each([
    [
      'a wrong issuer',
      { claims: { iss: 'https://identity-dev.fortellis.io/oauth2/aus1ni5i9n9WkzcYa2p7' } },
      { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'iss' },
    ],
    [
      'a wrong audience',
      { claims: { aud: 'some_other_audience' } },
      { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'aud' },
    ],
    [
      'another provider as subject',
      { claims: { sub: 'someone-else', cid: 'someone-else' } },
      { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'sub' },
    ],
    [
      'an expired token',
      { claims: { iat: 1_700_000_000, exp: 1_700_003_600 } },
      { code: 'ERR_JWT_EXPIRED', claim: 'exp' },
    ],
    [
      'a token not yet valid',
      { claims: { nbf: Math.floor(Date.now() / 1000) + 600 } },
      { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'nbf' },
    ],
  ] as const)('forges %s that fails on that claim', async (_name, options, expected) => {
    expect(await failureOf(sim.identity.mint(clientId(), options))).toEqual(expected);
  });

  it.each([
    ['alg none', 'alg-none', 'ERR_JOSE_ALG_NOT_ALLOWED'],
    ['HS256 signed with the public key', 'hs256-with-public-key', 'ERR_JOSE_ALG_NOT_ALLOWED'],
    ['an unknown kid', 'unknown-key', 'ERR_JWKS_NO_MATCHING_KEY'],
    ['a tampered signature', 'tampered-signature', 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED'],
  ] as const)('forges a token with %s that fails verification', async (_name, signing, code) => {
    const token = sim.identity.mint(clientId(), { signing });
    // The forged token carries genuine-looking claims: only the signature or algorithm is wrong.
    expect(decodeJwt(token)).toMatchObject({ sub: clientId(), iss: sim.identity.issuer });
    expect((await failureOf(token)).code).toBe(code);
  });

  it('rotates keys: the new kid is served and signs; the old one is kept or dropped as asked', async () => {
    const before = sim.identity.currentKid;
    const oldToken = sim.identity.mint(clientId());
    const kept = sim.identity.rotateKeys({ keepOld: true });
    let kids = (
      (await (await fetch(sim.identity.jwksUrl)).json()) as { keys: Array<{ kid: string }> }
    ).keys.map((k) => k.kid);
    expect(kids).toEqual([kept, before]);
    await expect(verify(sim.identity.mint(clientId()))).resolves.toBeDefined();
    await expect(verify(oldToken)).resolves.toBeDefined();

    const dropped = sim.identity.rotateKeys();
    kids = (
      (await (await fetch(sim.identity.jwksUrl)).json()) as { keys: Array<{ kid: string }> }
    ).keys.map((k) => k.kid);
    expect(kids).toEqual([dropped]);
    expect(await failureOf(oldToken)).toEqual({ code: 'ERR_JWKS_NO_MATCHING_KEY' });
  });

  it('counts JWKS requests', async () => {
    const before = sim.count('jwks');
    await fetch(sim.identity.jwksUrl);
    await fetch(sim.identity.jwksUrl);
    expect(sim.count('jwks')).toBe(before + 2);
  });

  it('answers 404 for another authorization server id', async () => {
    expect((await fetch(`${sim.url}/oauth2/ausOther/v1/keys`)).status).toBe(404);
  });
});

describe('client-credentials token endpoint', () => {
  const basic = (id: string, secret: string) =>
    `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
  const form = 'grant_type=client_credentials&scope=anonymous';

  it('issues 3600 s bearer tokens to the registered client and counts requests', async () => {
    const before = sim.count('token');
    const response = await fetch(sim.identity.tokenUrl, {
      method: 'POST',
      headers: {
        authorization: basic(sim.providerClient.clientId, sim.providerClient.clientSecret),
        'content-type': 'application/x-www-form-urlencoded',
      },
      body: form,
    });
    expect(response.status).toBe(200);
    const body = (await response.json()) as {
      token_type: string;
      expires_in: number;
      access_token: string;
      scope: string;
    };
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'anonymous' });
    expect(decodeJwt(body.access_token)).toMatchObject({
      sub: sim.providerClient.clientId,
      cid: sim.providerClient.clientId,
    });
    expect(sim.identity.acceptsAccessToken(body.access_token)).toBe(true);
    expect(sim.count('token')).toBe(before + 1);
  });

  it('refuses a wrong secret with 401 and a wrong grant type with 400', async () => {
    const headers = { 'content-type': 'application/x-www-form-urlencoded' };
    const wrongSecret = await fetch(sim.identity.tokenUrl, {
      method: 'POST',
      headers: { ...headers, authorization: basic(sim.providerClient.clientId, 'nope') },
      body: form,
    });
    expect(wrongSecret.status).toBe(401);
    const wrongGrant = await fetch(sim.identity.tokenUrl, {
      method: 'POST',
      headers: {
        ...headers,
        authorization: basic(sim.providerClient.clientId, sim.providerClient.clientSecret),
      },
      body: 'grant_type=password',
    });
    expect(wrongGrant.status).toBe(400);
  });
});
