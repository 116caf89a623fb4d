// Operators' roles and the OPS_API_TOKENS list that grants them. Pure: a role's rank, whether it
// may take an action, and the parsing of `name:role=token` entries, each token checked for
// strength (length and variety) without ever putting it in a message.

/**
 * What each role may do, each including the one before it:
 * - `metrics`: GET /metrics only (a scraper's credential).
 * - `viewer`: connections, timelines, search, attention list, Bull Board read-only, metrics.
 * - `operator`: review (approve, reject, dismiss), suspend, retry.
 * - `admin`: Bull Board's queue actions (pause, resume, clean, promote, retry and remove jobs) and
 *   the dry run of an approval rules file.
 */
export const OPERATOR_ROLES = ['metrics', 'viewer', 'operator', 'admin'] as const;
export type OperatorRole = (typeof OPERATOR_ROLES)[number];

/** The role of a `name=token` entry, written without one (stated in the warning at start-up). */
export const DEFAULT_OPERATOR_ROLE: OperatorRole = 'operator';

/** True when `role` includes what `needed` allows. */
export function roleAllows(role: OperatorRole, needed: OperatorRole): boolean {
  return OPERATOR_ROLES.indexOf(role) >= OPERATOR_ROLES.indexOf(needed);
}

export interface OperatorToken {
  name: string;
  role: OperatorRole;
  token: string;
}

/** A configured entry: its token, and whether its role was written or defaulted. */
export interface OperatorTokenEntry extends OperatorToken {
  roleDefaulted: boolean;
}

/** The least length of an operator token. */
export const MIN_TOKEN_LENGTH = 32;
/** The least number of distinct characters in an operator token. */
export const MIN_DISTINCT_CHARACTERS = 10;

/**
 * The length of the shortest unit the token repeats (its smallest period, from the prefix
 * function): `abcabcab` has 3. A token made of one short unit repeated is guessable whatever its
 * length.
 */
function smallestPeriod(token: string): number {
  const prefix = new Array<number>(token.length).fill(0);
  for (let i = 1; i < token.length; i += 1) {
    let k = prefix[i - 1] ?? 0;
    while (k > 0 && token[i] !== token[k]) k = prefix[k - 1] ?? 0;
    if (token[i] === token[k]) k += 1;
    prefix[i] = k;
  }
  return token.length - (prefix[token.length - 1] ?? 0);
}

/** Why a token is too weak to be an operator's, or undefined. Never quotes the token. */
export function weakTokenProblem(token: string): string | undefined {
  if (token.length < MIN_TOKEN_LENGTH)
    return `its token is shorter than ${MIN_TOKEN_LENGTH} characters`;
  if (new Set(token).size < MIN_DISTINCT_CHARACTERS)
    return `its token has fewer than ${MIN_DISTINCT_CHARACTERS} distinct characters`;
  if (smallestPeriod(token) * 2 <= token.length) return 'its token repeats one short pattern';
  return undefined;
}

/**
 * An entry of OPS_API_TOKENS that is refused; `entry` names it (its position, name and role, never
 * the token).
 */
export class OperatorTokenError extends Error {
  readonly entry: string;

  constructor(entry: string, problem: string) {
    super(`entry ${entry} is refused: ${problem}`);
    this.entry = entry;
  }
}

const ENTRY = /^([A-Za-z0-9_.-]+)(?::([a-z]+))?=(.*)$/s;

/**
 * Parses OPS_API_TOKENS: comma-separated `name:role=token` entries (`name=token` gets
 * {@link DEFAULT_OPERATOR_ROLE}). Throws {@link OperatorTokenError} naming the first entry refused:
 * malformed, an unknown role, a weak token, or a token given twice.
 */
export function parseOperatorTokens(list: string): OperatorTokenEntry[] {
  const seen = new Set<string>();
  return list.split(',').map((raw, index) => {
    const match = ENTRY.exec(raw.trim());
    const [, name, role, token] = match ?? [];
    if (name === undefined || token === undefined || token === '' || /[\s=]/.test(token))
      throw new OperatorTokenError(`${index + 1}`, 'it is not name=token or name:role=token');
    const label = `${index + 1} (${role === undefined ? name : `${name}:${role}`})`;
    if (role !== undefined && !(OPERATOR_ROLES as readonly string[]).includes(role))
      throw new OperatorTokenError(label, `its role must be one of ${OPERATOR_ROLES.join(', ')}`);
    const weak = weakTokenProblem(token);
    if (weak !== undefined) throw new OperatorTokenError(label, weak);
    if (seen.has(token)) throw new OperatorTokenError(label, 'its token is another entry’s too');
    seen.add(token);
    return {
      name,
      role: (role as OperatorRole | undefined) ?? DEFAULT_OPERATOR_ROLE,
      token,
      roleDefaulted: role === undefined,
    };
  });
}
