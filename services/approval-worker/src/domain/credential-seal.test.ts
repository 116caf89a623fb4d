// Sealing a buyer's credentials: what the database holds opens only with a configured key, any
// change to it is detected, and a key is rotated without losing what waits.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AppError, ConfigError } from '@fortellis-admin/contracts';
import { AesGcmCredentialSealer, keyIdOf, parseCredentialsKeys } from './credential-seal.ts';

const credentials = { apiKey: 'key-123', apiSecret: 's3cr3t-value' };
const [oldKey, newKey] = [randomBytes(32), randomBytes(32)];

describe('the credential sealer', () => {
  it('seals to text that shows neither the values nor the names, and opens back', () => {
    const sealer = new AesGcmCredentialSealer([oldKey]);
    const sealed = sealer.seal(credentials);
    expect(sealed.keyId).toBe(keyIdOf(oldKey));
    const stored = JSON.stringify(sealed);
    for (const text of ['key-123', 's3cr3t-value', 'apiSecret']) expect(stored).not.toContain(text);
    expect(sealer.open(sealed)).toEqual(credentials);
    // A fresh IV each time: the same credentials never seal to the same text.
    expect(sealer.seal(credentials).data).not.toBe(sealed.data);
  });

  it('detects any change to what was stored', () => {
    const sealer = new AesGcmCredentialSealer([oldKey]);
    const sealed = sealer.seal(credentials);
    const data = Buffer.from(sealed.data, 'base64');
    data[0] = (data[0] ?? 0) ^ 1;
    expect(() => sealer.open({ ...sealed, data: data.toString('base64') })).toThrow();
    expect(() => sealer.open({ ...sealed, tag: randomBytes(16).toString('base64') })).toThrow();
  });

  it('after a rotation (new key first, old kept) opens what the old key sealed and seals with the new', () => {
    const sealedBefore = new AesGcmCredentialSealer([oldKey]).seal(credentials);
    const rotated = new AesGcmCredentialSealer([newKey, oldKey]);
    expect(rotated.open(sealedBefore)).toEqual(credentials);
    expect(rotated.seal(credentials).keyId).toBe(keyIdOf(newKey));
  });

  it('without the key that sealed them, refuses for good, naming the keys', () => {
    const sealed = new AesGcmCredentialSealer([oldKey]).seal(credentials);
    const error = (() => {
      try {
        new AesGcmCredentialSealer([newKey]).open(sealed);
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).permanent).toBe(true);
    expect((error as AppError).message).toContain(keyIdOf(oldKey));
    expect((error as AppError).message).toContain(keyIdOf(newKey));
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
