// Operator authentication for the operations listener: bearer tokens compared in constant time.
import { createHash, timingSafeEqual } from 'node:crypto';
import { AppError, ERROR_CODES } from '@fortellis-admin/contracts';

export interface OperatorToken {
  name: string;
  token: string;
}

const digest = (value: string): Buffer => createHash('sha256').update(value).digest();

/**
 * Returns the operator named by an `Authorization: Bearer …` header. Every configured token is
 * compared (hashes of equal length, timingSafeEqual, no early exit), so the time taken tells
 * nothing about which token came close. Missing → 401; wrong → 403.
 */
export function createOperatorAuthenticator(
  tokens: readonly OperatorToken[],
): (authorization: string | undefined) => string {
  const known = tokens.map((entry) => ({ name: entry.name, digest: digest(entry.token) }));
  return (authorization) => {
    const match = /^Bearer[ ]+(\S+)\s*$/i.exec(authorization ?? '');
    if (match?.[1] === undefined) {
      throw new AppError(ERROR_CODES.authenticationFailed, 'an operator bearer token is required', {
        httpStatus: 401,
      });
    }
    const presented = digest(match[1]);
    let operator: string | undefined;
    for (const entry of known) {
      if (timingSafeEqual(presented, entry.digest) && operator === undefined) operator = entry.name;
    }
    if (operator === undefined)
      throw new AppError(ERROR_CODES.authenticationFailed, 'the operator token is not valid', {
        httpStatus: 403,
      });
    return operator;
  };
}
