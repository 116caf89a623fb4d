// Seals a buyer's credentials with AES-256-GCM for the time they wait in the database between the
// backend's provisioning and Fortellis' acknowledgement of the callback that carries them: a copy
// of the database (a backup, a dump, an operator's query) never shows them, and a sealed value
// copied to another connection does not open there. Pure: no I/O.
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { AppError, ConfigError, ERROR_CODES } from '@fortellis-admin/contracts';
import type { SealedCredentials } from '@fortellis-admin/connection-store';
import type { CredentialSealer } from './approval-ports.ts';

const ALGORITHM = 'aes-256-gcm';

/**
 * The associated data: the purpose, the key's id and the connection (its canonical, lower-cased
 * id), so a sealed value opens only as what it was sealed for, under the key it names, for the
 * connection it was sealed for: one moved to another connection's document fails to open.
 */
function associatedData(keyId: string, connectionId: string): Buffer {
  return Buffer.from(
    // Lower-cased as the store's key is: GUIDs compare case-insensitively.
    JSON.stringify([
      'fortellis-admin/provisioning-credentials/v2',
      keyId,
      connectionId.toLowerCase(),
    ]),
  );
}

/**
 * What the first version bound (the purpose alone): read only to open a value it sealed that still
 * waited for its callback when the new version started; never used to seal.
 */
const FIRST_VERSION_DATA = Buffer.from('fortellis-admin/provisioning-credentials/v1');

/** The key's id: enough of its SHA-256 to tell keys apart, nothing that helps to guess it. */
export function keyIdOf(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

/**
 * Reads `PROVISIONING_CREDENTIALS_KEY`: one key, or several separated by commas, each 32 bytes in
 * base64 (`openssl rand -base64 32`). The first seals; every one opens what it sealed, so a key is
 * rotated by putting the new one first and dropping the old once nothing sealed under it waits.
 */
export function parseCredentialsKeys(text: string): Buffer[] {
  const keys = text.split(',').map((part) => {
    const encoded = part.trim();
    const key = Buffer.from(encoded, 'base64');
    if (key.length !== 32 || key.toString('base64') !== encoded)
      throw new ConfigError(
        'PROVISIONING_CREDENTIALS_KEY',
        'must be 32-byte keys in base64, separated by commas (openssl rand -base64 32)',
      );
    return key;
  });
  return keys;
}

export class AesGcmCredentialSealer implements CredentialSealer {
  readonly #sealing: { key: Buffer; keyId: string };
  readonly #opening: ReadonlyMap<string, Buffer>;

  /** `keys[0]` seals; each of `keys` opens what it sealed. */
  constructor(keys: readonly Buffer[]) {
    const [first] = keys;
    if (first === undefined) throw new Error('at least one credentials key is needed');
    this.#sealing = { key: first, keyId: keyIdOf(first) };
    this.#opening = new Map(keys.map((key) => [keyIdOf(key), key]));
  }

  seal(credentials: Record<string, string>, connectionId: string): SealedCredentials {
    const { key, keyId } = this.#sealing;
    const iv = randomBytes(12);
    const cipher = createCipheriv(ALGORITHM, key, iv);
    cipher.setAAD(associatedData(keyId, connectionId));
    const data = Buffer.concat([
      cipher.update(JSON.stringify(credentials), 'utf8'),
      cipher.final(),
    ]);
    return {
      keyId,
      version: 2,
      iv: iv.toString('base64'),
      tag: cipher.getAuthTag().toString('base64'),
      data: data.toString('base64'),
    };
  }

  open(sealed: SealedCredentials, connectionId: string): Record<string, string> {
    const key = this.#opening.get(sealed.keyId);
    if (key === undefined)
      throw new AppError(
        ERROR_CODES.configInvalid,
        `credentials were sealed under key ${sealed.keyId}, which is not among the configured keys (${[...this.#opening.keys()].join(', ')})`,
        { permanent: true },
      );
    const decipher = createDecipheriv(ALGORITHM, key, Buffer.from(sealed.iv, 'base64'));
    decipher.setAAD(
      sealed.version === 2 ? associatedData(sealed.keyId, connectionId) : FIRST_VERSION_DATA,
    );
    decipher.setAuthTag(Buffer.from(sealed.tag, 'base64'));
    try {
      const text = Buffer.concat([
        decipher.update(Buffer.from(sealed.data, 'base64')),
        decipher.final(),
      ]).toString('utf8');
      return JSON.parse(text) as Record<string, string>;
    } catch (error) {
      // Changed, or sealed for another connection: nothing here can make it open.
      throw new AppError(
        ERROR_CODES.credentialsUnreadable,
        `the sealed credentials do not open for connection ${connectionId} under key ${sealed.keyId}: changed, or sealed for another connection`,
        { permanent: true, cause: error },
      );
    }
  }
}
