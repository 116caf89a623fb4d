// Seals a buyer's credentials with AES-256-GCM for the time they wait in the database between the
// backend's provisioning and Fortellis' acknowledgement of the callback that carries them: a copy
// of the database (a backup, a dump, an operator's query) never shows them. Pure: no I/O.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { AppError, ConfigError, ERROR_CODES } from '@fortellis-admin/contracts';
import type { SealedCredentials } from '@fortellis-admin/connection-store';
import type { CredentialSealer } from './approval-ports.ts';

const ALGORITHM = 'aes-256-gcm';
/** Bound to the purpose, so a sealed value cannot be passed off as anything else. */
const ASSOCIATED_DATA = Buffer.from('fortellis-admin/provisioning-credentials/v1');

/** The key's id: enough of its SHA-256 to tell keys apart, nothing that helps to guess it. */
export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

/** Reads `PROVISIONING_CREDENTIALS_KEY`: 32 bytes, base64 (`openssl rand -base64 32`). */
export function parseCredentialsKey(text: string): Buffer {
  const key = Buffer.from(text.trim(), 'base64');
  if (key.length !== 32 || key.toString('base64') !== text.trim())
    throw new ConfigError(
      'PROVISIONING_CREDENTIALS_KEY',
      'must be 32 bytes in base64 (openssl rand -base64 32)',
    );
  return key;
}

export class AesGcmCredentialSealer implements CredentialSealer {
  readonly #key: Buffer;
  readonly #keyId: string;

  constructor(key: Buffer) {
    this.#key = key;
    this.#keyId = keyIdOf(key);
  }

  seal(credentials: Record<string, string>): SealedCredentials {
    const iv = randomBytes(12);
    const cipher = createCipheriv(ALGORITHM, this.#key, iv);
    cipher.setAAD(ASSOCIATED_DATA);
    const data = Buffer.concat([
      cipher.update(JSON.stringify(credentials), 'utf8'),
      cipher.final(),
    ]);
    return {
      keyId: this.#keyId,
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      data: data.toString('base64'),
    };
  }

  open(sealed: SealedCredentials): Record<string, string> {
    if (sealed.keyId !== this.#keyId)
      throw new AppError(
        ERROR_CODES.configInvalid,
        `credentials were sealed under key ${sealed.keyId}, not the configured ${this.#keyId}`,
        { permanent: true },
      );
    const decipher = createDecipheriv(ALGORITHM, this.#key, Buffer.from(sealed.iv, 'base64'));
    decipher.setAAD(ASSOCIATED_DATA);
    decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
    const text = Buffer.concat([
      decipher.update(Buffer.from(sealed.data, 'base64')),
      decipher.final(),
    ]).toString('utf8');
    return JSON.parse(text) as Record<string, string>;
  }
}
