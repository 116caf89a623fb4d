// OPS_API_TOKENS entries: `name:role=token`, `name=token` as an operator, and tokens refused for
// being short, of low variety or one repeated pattern, each refusal naming the entry, never the
// token. And what each role includes.
import { describe, expect, it } from 'vitest';
import {
  OperatorTokenError,
  parseOperatorTokens,
  roleAllows,
  weakTokenProblem,
} from './operator-roles.ts';

const STRONG = 'Qm7vT2xK9pLw4Rz8Nb3Hc6Jd5Fg1Ys0a';
const OTHER = 'Nq8Rt2Yu6Io0Pa4Sd9Fg3Hj7Kl1Zx5Cv';

function refusal(list: string): string {
  try {
    parseOperatorTokens(list);
  } catch (error) {
    if (error instanceof OperatorTokenError) return error.message;
    throw error;
  }
  throw new Error('not refused');
}

describe('parseOperatorTokens', () => {
  it('reads name:role=token entries, and name=token as an operator whose role was not written', () => {
    expect(parseOperatorTokens(`ada:admin=${STRONG}, lee=${OTHER}`)).toEqual([
      { name: 'ada', role: 'admin', token: STRONG, roleDefaulted: false },
      { name: 'lee', role: 'operator', token: OTHER, roleDefaulted: true },
    ]);
    expect(parseOperatorTokens(`prometheus:metrics=${STRONG}`)[0]?.role).toBe('metrics');
  });

  it.each([
    ['short', 'x7Kp2Qm9Lw4Rz8Nb3Hc6', 'its token is shorter than 32 characters'],
    ['low variety', 'abcabcabcdddeeeffgghhabcabcabcdd', 'has fewer than 10 distinct characters'],
    ['one character', 'z'.repeat(40), 'has fewer than 10 distinct characters'],
    ['a repeated pattern', '0123456789abcdef'.repeat(2), 'repeats one short pattern'],
    ['a repeated pattern, cut short', 'Kp2Qm9Lw4Rz8'.repeat(3).slice(0, 34), 'repeats one short'],
  ])('refuses a %s token, naming the entry and never the token', (_what, token, problem) => {
    const message = refusal(`ada:admin=${STRONG},bob:viewer=${token}`);
    expect(message).toContain('entry 2 (bob:viewer) is refused');
    expect(message).toContain(problem);
    expect(message).not.toContain(token);
    expect(message).not.toContain(token.slice(0, 8));
  });

  it('refuses an unknown role, a malformed entry and a token given twice', () => {
    expect(refusal(`ada:root=${STRONG}`)).toBe(
      'entry 1 (ada:root) is refused: its role must be one of metrics, viewer, operator, admin',
    );
    expect(refusal(`ada:admin=${STRONG},${OTHER}`)).toBe(
      'entry 2 is refused: it is not name=token or name:role=token',
    );
    expect(refusal(`ada:admin=${STRONG},eve:viewer=${STRONG}`)).toContain(
      'entry 2 (eve:viewer) is refused',
    );
  });

  it('accepts the tokens the README and the deployment suggest making', () => {
    expect(weakTokenProblem('9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822c')).toBeUndefined();
    expect(weakTokenProblem('n3ZJ8q0r5Q2m0cW9vL1bX7yK4tE6uH2a')).toBeUndefined();
  });
});

describe('roles', () => {
  it('each includes the ones below it; metrics includes nothing else', () => {
    expect(roleAllows('admin', 'operator')).toBe(true);
    expect(roleAllows('operator', 'viewer')).toBe(true);
    expect(roleAllows('viewer', 'metrics')).toBe(true);
    expect(roleAllows('viewer', 'operator')).toBe(false);
    expect(roleAllows('operator', 'admin')).toBe(false);
    expect(roleAllows('metrics', 'viewer')).toBe(false);
  });
});
