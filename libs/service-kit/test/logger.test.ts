// The service logger: JSON lines with the service name, secrets and personal data censored.
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '@fortellis-admin/service-kit';
import { tutorialCurlPayload } from '@fortellis-admin/test-support';

function capture() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString('utf8'));
      done();
    },
  });
  return { lines, logger: createLogger('test-service', 'info', sink) };
}

describe('createLogger', () => {
  it('writes JSON lines with level label, ISO time and service name', () => {
    const { lines, logger } = capture();
    logger.child({ requestId: 'r-1' }).info({ connectionId: 'c-1' }, 'hello');
    expect(JSON.parse(lines[0]!)).toMatchObject({
      level: 'info',
      service: 'test-service',
      requestId: 'r-1',
      connectionId: 'c-1',
      msg: 'hello',
      time: expect.stringMatching(/Z$/),
    });
  });

  it('censors tokens, secrets and personal data wherever our code could log them', () => {
    const { lines, logger } = capture();
    logger.info(
      {
        activation: tutorialCurlPayload,
        data: { activation: tutorialCurlPayload },
        token: 'eyJhbGciOiJSUzI1NiJ9.payload.signature',
        authorization: 'Bearer eyJ-secret',
        clientSecret: 'the-secret',
        email: 'someone@example.com',
        headers: { authorization: 'Bearer eyJ-other' },
        req: { headers: { authorization: 'Bearer eyJ-third' } },
      },
      'everything sensitive at once',
    );
    const line = lines.join('');
    for (const secret of [
      'eyJ',
      'the-secret',
      'someone@example.com',
      tutorialCurlPayload.userInfo.fortellisId,
      tutorialCurlPayload.organizationInfo.phoneNumber,
      tutorialCurlPayload.organizationInfo.address,
      tutorialCurlPayload.appInfo.contactEmail,
    ]) {
      expect(line).not.toContain(secret);
    }
    expect(JSON.parse(line)).toMatchObject({
      activation: '[redacted]',
      token: '[redacted]',
      headers: { authorization: '[redacted]' },
    });
  });
});
