// The one error family of the system: a stable string code, a cause, and an HTTP status where the
// error has one. Entry points map these to answers; workers use `permanent` to stop retrying.

/** Every stable error code the system emits. Codes never change meaning once released. */
export const ERROR_CODES = Object.freeze({
  configInvalid: 'CONFIG_INVALID',
  contractViolation: 'CONTRACT_VIOLATION',
  malformedJson: 'MALFORMED_JSON',
  unsupportedMediaType: 'UNSUPPORTED_MEDIA_TYPE',
  payloadTooLarge: 'PAYLOAD_TOO_LARGE',
  routeNotFound: 'ROUTE_NOT_FOUND',
  authenticationFailed: 'AUTHENTICATION_FAILED',
  keysUnavailable: 'KEYS_UNAVAILABLE',
  queueUnavailable: 'QUEUE_UNAVAILABLE',
  notFound: 'NOT_FOUND',
  conflict: 'CONFLICT',
  /** An operator action the system refuses because it would lose acknowledged work. */
  actionNotAllowed: 'ACTION_NOT_ALLOWED',
  upstreamFailed: 'UPSTREAM_FAILED',
  /** An operator whose role does not allow the route (403; the message names the role needed). */
  forbiddenRole: 'FORBIDDEN_ROLE',
  /** Too many operator logins from one address in a short time (429). */
  tooManyLogins: 'TOO_MANY_LOGINS',
  /** An address locked out after repeated failed operator logins (429). */
  loginLockedOut: 'LOGIN_LOCKED_OUT',
  /** Sealed credentials that do not open: changed, or moved from another connection. */
  credentialsUnreadable: 'CREDENTIALS_UNREADABLE',
  internal: 'INTERNAL',
} as const);

export type ErrorCode = (typeof ERROR_CODES)[keyof typeof ERROR_CODES];

export interface AppErrorOptions {
  /** The underlying error, kept for logs; never shown to a caller. */
  cause?: unknown;
  /** The HTTP status an entry point answers with; absent for errors that never reach HTTP. */
  httpStatus?: number;
  /** True when retrying cannot help (bad data, a 4xx); workers then fail the job for good. */
  permanent?: boolean;
}

/** The base of every error the system raises on purpose. */
export class AppError extends Error {
  readonly code: ErrorCode;
  readonly httpStatus: number | undefined;
  readonly permanent: boolean;

  constructor(code: ErrorCode, message: string, options: AppErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.httpStatus = options.httpStatus;
    this.permanent = options.permanent ?? false;
  }
}

/** A missing or malformed environment variable. Its message is the one line start-up prints. */
export class ConfigError extends AppError {
  readonly variable: string;

  constructor(variable: string, problem: string) {
    super(ERROR_CODES.configInvalid, `invalid configuration: ${variable} ${problem}`, {
      permanent: true,
    });
    this.variable = variable;
  }
}

/** One problem found by a schema: where (JSON pointer, '' for the root) and what. */
export interface ContractIssue {
  pointer: string;
  message: string;
}

/** Data that does not satisfy its contract schema. Answered with 400 at the edge. */
export class ContractViolationError extends AppError {
  readonly issues: readonly ContractIssue[];

  constructor(subject: string, issues: readonly ContractIssue[]) {
    super(ERROR_CODES.contractViolation, `${subject} is invalid: ${formatIssues(issues)}`, {
      httpStatus: 400,
      permanent: true,
    });
    this.issues = issues;
  }
}

/** Joins the first issues into one readable line: `/connectionId must match format "guid"; ...`. */
export function formatIssues(issues: readonly ContractIssue[], max = 5): string {
  const shown = issues
    .slice(0, max)
    .map((issue) => `${issue.pointer === '' ? '(root)' : issue.pointer} ${issue.message}`);
  const rest = issues.length > max ? `; and ${issues.length - max} more` : '';
  return shown.join('; ') + rest;
}
