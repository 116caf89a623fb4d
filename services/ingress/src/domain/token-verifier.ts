// Verifies Fortellis bearer tokens: RS256 only, issuer, audience, subject (and cid) bound to this
// provider, exp/nbf with bounded clock tolerance. Verified tokens are cached by their whole text
// until they expire, so a caller reusing its token costs a map lookup, not an RSA verification.
import { errors, jwtVerify, type JWTVerifyGetKey } from 'jose';
import { AppError, ERROR_CODES } from '@fortellis-admin/contracts';

/** Why a token was refused; logged and counted, never shown to the caller beyond a phrase. */
export type AuthFailureReason =
  | 'missing_token'
  | 'not_bearer'
  | 'malformed'
  | 'alg_not_allowed'
  | 'unknown_key'
  | 'bad_signature'
  | 'expired'
  | 'not_yet_valid'
  | 'wrong_issuer'
  | 'wrong_audience'
  | 'wrong_subject'
  | 'wrong_client'
  | 'missing_claim';

const PHRASES: Record<AuthFailureReason, string> = {
  missing_token: 'a bearer token is required',
  not_bearer: 'the Authorization header must use the Bearer scheme',
  malformed: 'the bearer token is malformed',
  alg_not_allowed: 'the bearer token is not signed with an accepted algorithm',
  unknown_key: 'the bearer token is signed with an unknown key',
  bad_signature: 'the bearer token signature is invalid',
  expired: 'the bearer token has expired',
  not_yet_valid: 'the bearer token is not valid yet',
  wrong_issuer: 'the bearer token was not issued by the expected issuer',
  wrong_audience: 'the bearer token is not meant for this audience',
  wrong_subject: 'the bearer token is not meant for this provider',
  wrong_client: 'the bearer token is not meant for this provider',
  missing_claim: 'the bearer token lacks a required claim',
};

/** An authentication failure: always 403 at the edge, with a phrase that reveals nothing inside. */
export class AuthenticationError extends AppError {
  readonly reason: AuthFailureReason;

  constructor(reason: AuthFailureReason, cause?: unknown) {
    super(ERROR_CODES.authenticationFailed, PHRASES[reason], {
      httpStatus: 403,
      permanent: true,
      cause,
    });
    this.reason = reason;
  }
}

/** What the rest of the system learns from a verified token. */
export interface VerifiedToken {
  jti: string;
  sub: string;
}

export interface TokenVerifierOptions {
  getKey: JWTVerifyGetKey;
  issuer: string;
  audience: string;
  /** The provider API's own client id: required as `sub`, and as `cid` when present. */
  clientId: string;
  /** Seconds of clock tolerance for exp/nbf/iat; at most 60. */
  clockToleranceSeconds?: number;
  /**
   * Verified tokens kept at most. Default 1 000: Fortellis reuses a token for its hour, so a few
   * are live at a time, and each entry holds the token's text (~770 bytes) as its key: 10 000 held
   * 7.3 MB of token text alone once filled by callers that never reuse a token.
   */
  cacheSize?: number;
  now?: () => number;
}

/** Maps jose's errors to a reason; anything unexpected (not a token problem) is rethrown. */
export function reasonOf(error: unknown): AuthFailureReason | undefined {
  if (error instanceof errors.JWTExpired) return 'expired';
  if (error instanceof errors.JWTClaimValidationFailed) {
    switch (error.claim) {
      case 'iss':
        return 'wrong_issuer';
      case 'aud':
        return 'wrong_audience';
      case 'sub':
        return 'wrong_subject';
      case 'nbf':
      case 'iat':
        return error.reason === 'missing' ? 'missing_claim' : 'not_yet_valid';
      default:
        return 'missing_claim';
    }
  }
  if (error instanceof errors.JOSEAlgNotAllowed || error instanceof errors.JOSENotSupported)
    return 'alg_not_allowed';
  if (error instanceof errors.JWKSNoMatchingKey || error instanceof errors.JWKSMultipleMatchingKeys)
    return 'unknown_key';
  if (error instanceof errors.JWSSignatureVerificationFailed) return 'bad_signature';
  if (
    error instanceof errors.JWSInvalid ||
    error instanceof errors.JWTInvalid ||
    error instanceof errors.JOSEError
  )
    return 'malformed';
  return undefined;
}

interface CacheEntry {
  token: VerifiedToken;
  /** Epoch ms after which the token is no longer accepted (exp + tolerance). */
  until: number;
}

export class TokenVerifier {
  readonly #options: TokenVerifierOptions;
  readonly #tolerance: number;
  readonly #cacheSize: number;
  readonly #now: () => number;
  readonly #cache = new Map<string, CacheEntry>();

  constructor(options: TokenVerifierOptions) {
    this.#options = options;
    this.#tolerance = Math.min(60, Math.max(0, options.clockToleranceSeconds ?? 60));
    this.#cacheSize = options.cacheSize ?? 1_000;
    this.#now = options.now ?? Date.now;
  }

  /** Verifies an `Authorization` header value. Throws AuthenticationError, or AppError(503) without keys. */
  async verifyHeader(authorization: string | undefined): Promise<VerifiedToken> {
    if (authorization === undefined || authorization.trim() === '')
      throw new AuthenticationError('missing_token');
    const match = /^Bearer[ ]+([A-Za-z0-9_.~+/=-]+)\s*$/i.exec(authorization);
    if (match?.[1] === undefined) {
      throw new AuthenticationError(/^Bearer\b/i.test(authorization) ? 'malformed' : 'not_bearer');
    }
    return this.verify(match[1]);
  }

  async verify(token: string): Promise<VerifiedToken> {
    const now = this.#now();
    const cached = this.#cache.get(token);
    if (cached !== undefined) {
      if (now <= cached.until) return cached.token;
      this.#cache.delete(token);
    }
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.#options.getKey, {
        algorithms: ['RS256'],
        issuer: this.#options.issuer,
        audience: this.#options.audience,
        subject: this.#options.clientId,
        clockTolerance: this.#tolerance,
        requiredClaims: ['exp', 'sub'],
        currentDate: new Date(now),
      }));
    } catch (error) {
      const reason = reasonOf(error);
      if (reason === undefined) throw error;
      throw new AuthenticationError(reason, error);
    }
    if (payload.cid !== undefined && payload.cid !== this.#options.clientId)
      throw new AuthenticationError('wrong_client');
    const verified: VerifiedToken = {
      jti: typeof payload.jti === 'string' ? payload.jti : '',
      sub: payload.sub ?? '',
    };
    this.#remember(token, verified, (payload.exp ?? 0) * 1000 + this.#tolerance * 1000);
    return verified;
  }

  /** Tokens currently cached. */
  get cached(): number {
    return this.#cache.size;
  }

  #remember(token: string, verified: VerifiedToken, until: number): void {
    if (this.#cache.size >= this.#cacheSize) {
      // Drop the oldest entry: insertion order is a good enough proxy for "least useful" here.
      const oldest = this.#cache.keys().next();
      if (oldest.done !== true) this.#cache.delete(oldest.value);
    }
    this.#cache.set(token, { token: verified, until });
  }
}
