// Operator authentication for the operations listener: bearer tokens compared in constant time,
// and, for the browser, a signed session cookie issued by the login form (the token never travels
// in a URL). A session is signed with the operator's own token, so removing a token from
// OPS_API_TOKENS ends its sessions too, and any replica can check a session without shared state.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { AppError, ERROR_CODES } from '@fortellis-admin/contracts';

export interface OperatorToken {
  name: string;
  token: string;
}

/** What a request presents: its Authorization header and its session cookie, either may be absent. */
export interface OperatorCredentials {
  authorization?: string | undefined;
  session?: string | undefined;
}

export interface OperatorAuthenticator {
  /** The operator's token name. Nothing presented → 401; a wrong token or session → 403. */
  authenticate(credentials: OperatorCredentials): { operator: string; via: 'bearer' | 'session' };
  /** The operator named by a token, or undefined: the login form's check. */
  operatorOf(token: string): string | undefined;
  /** A session value for the operator, valid until `expiresAt`. */
  issueSession(operator: string, expiresAt: Date): string;
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
  const known = tokens.map((entry) => ({ ...entry, digest: digest(entry.token) }));

  // Every configured token is compared (hashes of equal length, timingSafeEqual, no early exit),
  // so the time taken tells nothing about which token came close.
  const operatorOf = (token: string): string | undefined => {
    const presented = digest(token);
    let operator: string | undefined;
    for (const entry of known) {
      if (timingSafeEqual(presented, entry.digest) && operator === undefined) operator = entry.name;
    }
    return operator;
  };

  const issueSession = (operator: string, expiresAt: Date): string => {
    const entry = known.find((candidate) => candidate.name === operator);
    if (entry === undefined) throw new Error(`no operator token named ${operator}`);
    const payload = Buffer.from(`${operator}|${expiresAt.getTime()}`).toString('base64url');
    return `${payload}.${sign(entry.token, payload).toString('base64url')}`;
  };

  const sessionOperator = (session: string): string => {
    const [payload, signature, extra] = session.split('.');
    if (payload === undefined || signature === undefined || extra !== undefined) {
      throw refused('the operator session is not valid; log in again');
    }
    const [name, expiresAt] = Buffer.from(payload, 'base64url').toString('utf8').split('|');
    const entry = known.find((candidate) => candidate.name === name);
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
    return entry.name;
  };

  return {
    operatorOf,
    issueSession,
    authenticate: ({ authorization, session }) => {
      if (authorization !== undefined && authorization !== '') {
        const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization);
        if (match?.[1] === undefined) throw unauthenticated();
        const operator = operatorOf(match[1]);
        if (operator === undefined) throw refused('the operator token is not valid');
        return { operator, via: 'bearer' };
      }
      if (session !== undefined && session !== '') {
        return { operator: sessionOperator(session), via: 'session' };
      }
      throw unauthenticated();
    },
  };
}
