// The Fortellis identity provider: RS256 key pairs, a JWKS, tokens shaped like real ones, forged
// tokens for negative tests, key rotation, and the client-credentials token endpoint's state.
import { createHmac, generateKeyPairSync, randomUUID, sign, type KeyObject } from 'node:crypto';

/** Production's authorization server id; the simulator uses it by default so URLs look real. */
export const DEFAULT_SERVER_ID = 'aus1p1ixy7YL8cMq02p7';

interface SigningKey {
  kid: string;
  privateKey: KeyObject;
  publicPem: string;
  publicJwk: Record<string, unknown>;
}

/** Claims of a Fortellis token; every one can be overridden (or removed with `undefined`). */
export interface TokenClaims {
  ver?: number;
  jti?: string;
  iss?: string;
  aud?: string | string[];
  iat?: number;
  nbf?: number;
  exp?: number;
  cid?: string;
  scp?: string[];
  sub?: string;
  [claim: string]: unknown;
}

/** How to sign a token. `current` is the only way that produces a genuine token. */
export type SigningMode =
  'current' | 'unknown-key' | 'alg-none' | 'hs256-with-public-key' | 'tampered-signature';

export interface MintOptions {
  claims?: TokenClaims;
  /** Extra or overriding JOSE header members (e.g. a different `kid` or `alg`). */
  header?: Record<string, unknown>;
  signing?: SigningMode;
  /** Lifetime in seconds when `exp` is not given. Default 3600. */
  ttlSeconds?: number;
}

export interface ClientCredentials {
  clientId: string;
  clientSecret: string;
}

export interface IssuedAccessToken {
  token: string;
  clientId: string;
  expiresAt: number;
}

const b64url = (input: Buffer | string): string => Buffer.from(input).toString('base64url');

function createSigningKey(): SigningKey {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const kid = b64url(randomUUID()).slice(0, 22);
  return {
    kid,
    privateKey,
    publicPem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    publicJwk: { ...publicKey.export({ format: 'jwk' }), kid, alg: 'RS256', use: 'sig' },
  };
}

/**
 * The identity provider of one authorization server (`/oauth2/{serverId}`). Create it, then set
 * `baseUrl` once the HTTP server listens (the issuer is `{baseUrl}/oauth2/{serverId}`).
 */
export class IdentityProvider {
  readonly serverId: string;
  /** The audience Fortellis puts in tokens sent to providers since September 2022. */
  readonly audience = 'api_providers';
  baseUrl = 'http://127.0.0.1';
  /** Lifetime of client-credentials tokens from the token endpoint, in seconds. */
  accessTokenTtlSeconds = 3600;
  /** Seconds added to the real clock, so tests can age tokens without waiting. */
  clockSkewSeconds = 0;

  #keys: SigningKey[] = [createSigningKey()];
  readonly #clients = new Map<string, string>();
  readonly #issued = new Map<string, IssuedAccessToken>();

  constructor(serverId = DEFAULT_SERVER_ID) {
    this.serverId = serverId;
  }

  get issuer(): string {
    return `${this.baseUrl}/oauth2/${this.serverId}`;
  }

  get jwksUrl(): string {
    return `${this.issuer}/v1/keys`;
  }

  get tokenUrl(): string {
    return `${this.issuer}/v1/token`;
  }

  /** The kid of the key that signs new tokens. */
  get currentKid(): string {
    return this.#current().kid;
  }

  now(): number {
    return Math.floor(Date.now() / 1000) + this.clockSkewSeconds;
  }

  /** The JWKS document as served: the public halves of every active key. */
  jwks(): { keys: Array<Record<string, unknown>> } {
    return { keys: this.#keys.map((key) => ({ ...key.publicJwk })) };
  }

  /**
   * Rotates the signing key: a new `kid` signs from now on. With `keepOld` the previous keys stay
   * in the JWKS (Fortellis overlaps keys during a planned rotation); without, they are dropped.
   */
  rotateKeys(options: { keepOld?: boolean } = {}): string {
    const next = createSigningKey();
    this.#keys = options.keepOld === true ? [next, ...this.#keys] : [next];
    return next.kid;
  }

  /** Registers a client for the client-credentials grant (the provider's API client). */
  registerClient(credentials: ClientCredentials): void {
    this.#clients.set(credentials.clientId, credentials.clientSecret);
  }

  /** True when the id and secret match a registered client. */
  checkClient(clientId: string, clientSecret: string): boolean {
    const expected = this.#clients.get(clientId);
    return expected !== undefined && expected === clientSecret;
  }

  /** The claims of a genuine token for `sub`, as Fortellis shapes them. */
  claimsFor(
    sub: string,
    ttlSeconds = 3600,
  ): Required<
    Pick<TokenClaims, 'ver' | 'jti' | 'iss' | 'aud' | 'iat' | 'exp' | 'cid' | 'scp' | 'sub'>
  > {
    const iat = this.now();
    return {
      ver: 1,
      jti: `AT.${b64url(randomUUID())}`,
      iss: this.issuer,
      aud: this.audience,
      iat,
      exp: iat + ttlSeconds,
      cid: sub,
      scp: ['anonymous'],
      sub,
    };
  }

  /**
   * Mints a token for `sub` (the provider API's client id). Claims and header may be overridden and
   * the signing mode chosen, so tests can forge every kind of bad token.
   */
  mint(sub: string, options: MintOptions = {}): string {
    const claims: Record<string, unknown> = {
      ...this.claimsFor(sub, options.ttlSeconds ?? 3600),
      ...options.claims,
    };
    for (const [name, value] of Object.entries(claims))
      if (value === undefined) delete claims[name];
    const key = this.#current();
    const signing = options.signing ?? 'current';
    const header: Record<string, unknown> = {
      kid: key.kid,
      alg: 'RS256',
      typ: 'JWT',
      ...options.header,
    };
    switch (signing) {
      case 'alg-none': {
        const noneHeader: Record<string, unknown> = { ...header, alg: 'none' };
        delete noneHeader.kid;
        return `${b64url(JSON.stringify(noneHeader))}.${b64url(JSON.stringify(claims))}.`;
      }
      case 'hs256-with-public-key': {
        // The classic algorithm confusion: HMAC keyed with the public key a verifier might hold.
        const input = `${b64url(JSON.stringify({ ...header, alg: 'HS256' }))}.${b64url(JSON.stringify(claims))}`;
        return `${input}.${createHmac('sha256', key.publicPem).update(input).digest('base64url')}`;
      }
      case 'unknown-key': {
        const stranger = createSigningKey();
        const input = `${b64url(JSON.stringify({ ...header, kid: stranger.kid }))}.${b64url(JSON.stringify(claims))}`;
        return `${input}.${sign('sha256', Buffer.from(input), stranger.privateKey).toString('base64url')}`;
      }
      case 'tampered-signature': {
        const genuine = this.#sign(header, claims, key);
        const [h, p, s] = genuine.split('.') as [string, string, string];
        const bytes = Buffer.from(s, 'base64url');
        bytes[bytes.length - 1] = (bytes[bytes.length - 1] ?? 0) ^ 0x01;
        return `${h}.${p}.${bytes.toString('base64url')}`;
      }
      case 'current':
        return this.#sign(header, claims, key);
    }
  }

  /** Issues a client-credentials access token for a registered client and remembers it. */
  issueAccessToken(clientId: string): IssuedAccessToken {
    const token = this.mint(clientId, { ttlSeconds: this.accessTokenTtlSeconds });
    const issued = { token, clientId, expiresAt: this.now() + this.accessTokenTtlSeconds };
    this.#issued.set(token, issued);
    return issued;
  }

  /** True when `token` was issued by the token endpoint and has not expired or been revoked. */
  acceptsAccessToken(token: string): boolean {
    const issued = this.#issued.get(token);
    return issued !== undefined && issued.expiresAt > this.now();
  }

  /** Forgets every issued access token, as if they had all expired. */
  expireAccessTokens(): void {
    this.#issued.clear();
  }

  #current(): SigningKey {
    const key = this.#keys[0];
    if (key === undefined) throw new Error('identity provider has no signing key');
    return key;
  }

  #sign(header: Record<string, unknown>, claims: Record<string, unknown>, key: SigningKey): string {
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    return `${input}.${sign('sha256', Buffer.from(input), key.privateKey).toString('base64url')}`;
  }
}
