// What the workers read and keep of an outside party's answer, against the simulator over real
// HTTP: a body past the cap is a failed attempt (for posts and token requests alike), and what is
// kept of a body has the call's secrets taken out and is cut short.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { AppError } from '@fortellis-admin/contracts';
import {
  ClientCredentialsTokenClient,
  KEPT_BODY_CHARS,
  MAX_ANSWER_BYTES,
  postJson,
  redactedBody,
} from '@fortellis-admin/service-kit';
import { startSimulator, type Simulator } from '@fortellis-admin/simulator';

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator();
});
afterAll(async () => {
  await sim.stop();
});
beforeEach(() => {
  sim.faults.clear();
});

const deprovision = (maxAnswerBytes?: number) =>
  postJson(
    `${sim.url}/backend/deprovision`,
    { connectionId: 'c-1' },
    {},
    2000,
    ...(maxAnswerBytes === undefined ? [] : [maxAnswerBytes]),
  );

describe('an outside answer', () => {
  it('is read whole up to the cap', async () => {
    expect(await deprovision()).toEqual({
      answered: true,
      status: 200,
      body: '{"status":"deprovisioned"}',
    });
    sim.faults.add('deprovision', { kind: 'oversized', status: 200, bytes: MAX_ANSWER_BYTES });
    const atCap = await deprovision();
    expect(atCap.answered && atCap.body.length).toBe(MAX_ANSWER_BYTES);
  });

  it.each([
    ['declared in Content-Length', false],
    ['streamed without a length', true],
  ])(
    'of 1 MiB %s is a failed attempt with no answer, like a connection that broke',
    async (_how, chunked) => {
      sim.faults.add('deprovision', {
        kind: 'oversized',
        status: 200,
        bytes: 1024 * 1024,
        chunked,
      });
      expect(await deprovision()).toEqual({
        answered: false,
        error: `AnswerTooLarge: the HTTP 200 answer's body exceeds ${MAX_ANSWER_BYTES} bytes`,
      });
      // The connection it came on is dropped; the next call is answered normally.
      expect(await deprovision()).toMatchObject({ answered: true, status: 200 });
    },
  );

  it('past a smaller cap, is refused as well', async () => {
    sim.faults.add('deprovision', { kind: 'oversized', status: 503, bytes: 2048, chunked: true });
    expect(await deprovision(1024)).toEqual({
      answered: false,
      error: "AnswerTooLarge: the HTTP 503 answer's body exceeds 1024 bytes",
    });
  });
});

describe('a token endpoint answer', () => {
  it('past the cap is a transient failure: nothing is cached, the next request gets a token', async () => {
    const client = new ClientCredentialsTokenClient({
      tokenUrl: sim.identity.tokenUrl,
      clientId: sim.providerClient.clientId,
      clientSecret: sim.providerClient.clientSecret,
      scope: 'anonymous',
      timeoutMs: 2000,
    });
    sim.faults.add('token', { kind: 'oversized', status: 200, bytes: 1024 * 1024, chunked: true });
    const error = await client.token().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({
      permanent: false,
      message: expect.stringContaining('AnswerTooLarge'),
    });
    expect(await client.token()).toEqual(expect.any(String));
  });
});

describe('what is kept of a body', () => {
  it('has the call’s secrets replaced, as sent and as JSON escapes them', () => {
    const token = 'tok"en\\1';
    const body = `${JSON.stringify({ message: `refused ${token}` })} Bearer ${token}`;
    expect(redactedBody(body, [token])).toBe('{"message":"refused [redacted]"} Bearer [redacted]');
  });

  it('is cut to a bounded size', () => {
    const kept = redactedBody('x'.repeat(KEPT_BODY_CHARS * 3), []);
    expect(kept).toBe(`${'x'.repeat(KEPT_BODY_CHARS)}…`);
  });
});
