// Operator authentication for the operations listener: bearer tokens compared in constant time,
// and, for the browser, a signed session cookie issued by the login form (the token never travels
// in a URL). A session names the token it was opened with (by a short hash) and is signed with
// that token, so removing a token from OPS_API_TOKENS ends exactly its sessions, even when two
// tokens share an operator name during a rotation, and any replica can check a session without
// shared state. The role comes from the token's entry at each request, so changing an entry's
// role changes what its open sessions may do at once.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { AppError, ERROR_CODES } from '@fortellis-admin/contracts';
import type { OperatorRole, OperatorToken } from './operator-roles.ts';

export type { OperatorToken } from './operator-roles.ts';

/** Who an operator is: the token entry's name and role. */
export interface OperatorIdentity {
  operator: string;
  role: OperatorRole;
}

/** What a request presents: its Authorization header and its session cookie, either may be absent. */
export interface OperatorCredentials {
  authorization?: string | undefined;
  session?: string | undefined;
}

export interface OperatorAuthenticator {
  /** The operator's name and role. Nothing presented → 401; a wrong token or session → 403. */
  authenticate(credentials: OperatorCredentials): OperatorIdentity & { via: 'bearer' | 'session' };
  /** The operator a token names, or undefined: the login form's check. */
  operatorOf(token: string): OperatorIdentity | undefined;
  /** A session value for whoever holds `token` (which must be valid), valid until `expiresAt`. */
  issueSession(token: string, expiresAt: Date): string;
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

const sign = (token: string, payload: string): Buffer =>
  createHmac('sha256', token).update(`ops-session|${payload}`).digest();

const unauthenticated = () =>
  new AppError(ERROR_CODES.authenticationFailed, 'an operator bearer token is required', {
    httpStatus: 401,
  });

const refused = (message: string) =>
  new AppError(ERROR_CODES.authenticationFailed, message, { httpStatus: 403 });

export function createOperatorAuthenticator(
  tokens: readonly OperatorToken[],
  now: () => Date = () => new Date(),
): OperatorAuthenticator {
  const known = tokens.map((entry) => ({
    ...entry,
    digest: digest(entry.token),
    id: digest(`ops-token-id|${entry.token}`).subarray(0, 12).toString('base64url'),
  }));

  const entryOf = (token: string) => {
    const presented = digest(token);
    let found: (typeof known)[number] | undefined;
    for (const entry of known) {
      if (timingSafeEqual(presented, entry.digest) && found === undefined) found = entry;
    }
    return found;
  };

  // Every configured token is compared (hashes of equal length, timingSafeEqual, no early exit),
  // so the time taken tells nothing about which token came close.
  const operatorOf = (token: string): OperatorIdentity | undefined => {
    const entry = entryOf(token);
    return entry === undefined ? undefined : { operator: entry.name, role: entry.role };
  };

  const issueSession = (token: string, expiresAt: Date): string => {
    const entry = entryOf(token);
    if (entry === undefined) throw new Error('a session needs a valid operator token');
    const payload = Buffer.from(`${entry.id}|${expiresAt.getTime()}`).toString('base64url');
    return `${payload}.${sign(entry.token, payload).toString('base64url')}`;
  };

  const sessionOperator = (session: string): OperatorIdentity => {
    const [payload, signature, extra] = session.split('.');
    if (payload === undefined || signature === undefined || extra !== undefined) {
      throw refused('the operator session is not valid; log in again');
    }
    const [id, expiresAt] = Buffer.from(payload, 'base64url').toString('utf8').split('|');
    const entry = known.find((candidate) => candidate.id === id);
    const presented = Buffer.from(signature, 'base64url');
    const expected = entry === undefined ? undefined : sign(entry.token, payload);
    if (
      entry === undefined ||
      expected === undefined ||
      presented.length !== expected.length ||
      !timingSafeEqual(presented, expected)
    ) {
      throw refused('the operator session is not valid; log in again');
    }
    if (!(Number(expiresAt) > now().getTime())) {
      throw refused('the operator session has expired; log in again');
    }
    return { operator: entry.name, role: entry.role };
  };

  return {
    operatorOf,
    issueSession,
    authenticate: ({ authorization, session }) => {
      if (authorization !== undefined && authorization !== '') {
        const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
        if (match?.[1] === undefined) throw unauthenticated();
        const identity = operatorOf(match[1]);
        if (identity === undefined) throw refused('the operator token is not valid');
        return { ...identity, via: 'bearer' };
      }
      if (session !== undefined && session !== '') {
        return { ...sessionOperator(session), via: 'session' };
      }
      throw unauthenticated();
    },
  };
}
