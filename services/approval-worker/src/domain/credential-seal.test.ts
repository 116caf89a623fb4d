// Sealing a buyer's credentials: what the database holds opens only with a configured key and only
// for the connection it was sealed for, any change to it is detected, and a key is rotated without
// losing what waits.
import { createCipheriv, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AppError, ConfigError, ERROR_CODES } from '@fortellis-admin/contracts';
import { AesGcmCredentialSealer, keyIdOf, parseCredentialsKeys } from './credential-seal.ts';

const credentials = { apiKey: 'key-123', apiSecret: 's3cr3t-value' };
const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];
const connectionId = '6f1c2a4e-93d1-4f6b-8a57-2c0e4b1d9a10';
const otherConnectionId = '0b8e6d2f-1a3c-4e5d-9f70-8c6b5a4d3e21';

/** What errors `work` throws, or undefined. */
function thrown(work: () => unknown): unknown {
  try {
    work();
  } catch (caught) {
    return caught;
  }
  return undefined;
}

describe('the credential sealer', () => {
  it('seals to text that shows neither the values nor the names, and opens back', () => {
    const sealer = new AesGcmCredentialSealer([oldKey]);
    const sealed = sealer.seal(credentials, connectionId);
    expect(sealed.keyId).toBe(keyIdOf(oldKey));
    const stored = JSON.stringify(sealed);
    for (const text of ['key-123', 's3cr3t-value', 'apiSecret']) expect(stored).not.toContain(text);
    expect(sealer.open(sealed, connectionId)).toEqual(credentials);
    // A fresh IV each time: the same credentials never seal to the same text.
    expect(sealer.seal(credentials, connectionId).data).not.toBe(sealed.data);
  });

  it('detects any change to what was stored', () => {
    const sealer = new AesGcmCredentialSealer([oldKey]);
    const sealed = sealer.seal(credentials, connectionId);
    const data = Buffer.from(sealed.data, 'base64');
    data[0] = (data[0] ?? 0) ^ 1;
    expect(() => sealer.open({ ...sealed, data: data.toString('base64') }, connectionId)).toThrow();
    expect(() =>
      sealer.open({ ...sealed, tag: randomBytes(16).toString('base64') }, connectionId),
    ).toThrow();
  });

  it('after a rotation (new key first, old kept) opens what the old key sealed and seals with the new', () => {
    const sealedBefore = new AesGcmCredentialSealer([oldKey]).seal(credentials, connectionId);
    const rotated = new AesGcmCredentialSealer([newKey, oldKey]);
    expect(rotated.open(sealedBefore, connectionId)).toEqual(credentials);
    expect(rotated.seal(credentials, connectionId).keyId).toBe(keyIdOf(newKey));
  });

  it('without the key that sealed them, refuses for good, naming the keys', () => {
    const sealed = new AesGcmCredentialSealer([oldKey]).seal(credentials, connectionId);
    const error = thrown(() => new AesGcmCredentialSealer([newKey]).open(sealed, connectionId));
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).permanent).toBe(true);
    expect((error as AppError).message).toContain(keyIdOf(oldKey));
    expect((error as AppError).message).toContain(keyIdOf(newKey));
  });
});

describe('what the seal binds', () => {
  it('a sealed value moved to another connection does not open there, for good', () => {
    const sealer = new AesGcmCredentialSealer([oldKey]);
    const sealed = sealer.seal(credentials, connectionId);
    const error = thrown(() => sealer.open(sealed, otherConnectionId));
    expect(error).toBeInstanceOf(AppError);
    expect(error).toMatchObject({ code: ERROR_CODES.credentialsUnreadable, permanent: true });
    // Where it was sealed it still opens, whatever the case of the id Fortellis wrote.
    expect(sealer.open(sealed, connectionId.toUpperCase())).toEqual(credentials);
  });

  it('binds the key id: a value relabelled as sealed under another configured key does not open', () => {
    const sealer = new AesGcmCredentialSealer([newKey, oldKey]);
    const sealed = new AesGcmCredentialSealer([oldKey]).seal(credentials, connectionId);
    expect(() => sealer.open({ ...sealed, keyId: keyIdOf(newKey) }, connectionId)).toThrow(
      AppError,
    );
  });

  it('still opens what the first version sealed (the purpose alone) and was waiting at the upgrade', () => {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', oldKey, iv);
    cipher.setAAD(Buffer.from('fortellis-admin/provisioning-credentials/v1'));
    const data = Buffer.concat([cipher.update(JSON.stringify(credentials)), cipher.final()]);
    const firstVersion = {
      keyId: keyIdOf(oldKey),
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      data: data.toString('base64'),
    };
    const sealer = new AesGcmCredentialSealer([oldKey]);
    expect(sealer.open(firstVersion, connectionId)).toEqual(credentials);
    // A new seal cannot be passed off as a first-version one to escape its binding.
    const { version: _version, ...unmarked } = sealer.seal(credentials, connectionId);
    expect(() => sealer.open(unmarked, otherConnectionId)).toThrow(AppError);
  });
});

describe('PROVISIONING_CREDENTIALS_KEY', () => {
  it('takes one key or several separated by commas, the sealing one first', () => {
    const text = `${newKey.toString('base64')}, ${oldKey.toString('base64')}`;
    expect(parseCredentialsKeys(text)).toEqual([newKey, oldKey]);
  });

  it.each([
    ['too short', randomBytes(16).toString('base64')],
    ['not base64', 'not a key at all, really not'],
    ['an empty entry', `${oldKey.toString('base64')},`],
  ])('refuses %s, naming the variable', (_why, text) => {
    expect(() => parseCredentialsKeys(text)).toThrow(ConfigError);
    expect(() => parseCredentialsKeys(text)).toThrow(/PROVISIONING_CREDENTIALS_KEY/);
  });
});
