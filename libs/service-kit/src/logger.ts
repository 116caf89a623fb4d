// The structured logger every service uses: pino, JSON to stdout, secrets and personal data redacted.
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { redactUrlCredentialsDeep } from './url-redaction.ts';

/** Log levels a service accepts in `LOG_LEVEL`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Keys that never reach a log line: tokens, secrets, and the personal data of an activation
 * (emails, phone numbers, addresses). Whole containers that hold personal data (`activation`,
 * `organizationInfo`, a job's `data`, a request `body`) are censored as one. Only exact paths are
 * listed: each `*` wildcard costs about 1.5 µs on every log line, measured with pino's redaction,
 * and no code path logs these keys deeper than listed here.
 */
export const REDACTED_LOG_PATHS: readonly string[] = [
  'authorization',
  'token',
  'accessToken',
  'access_token',
  'clientSecret',
  'client_secret',
  'password',
  'secret',
  'email',
  'contactEmail',
  'fortellisId',
  'phoneNumber',
  'address',
  'activation',
  'payload',
  'body',
  'data',
  'organizationInfo',
  'userInfo',
  'appInfo',
  'entityInfo',
  'solutionInfo',
  'headers.authorization',
  'req.headers.authorization',
  'req.headers.cookie',
  'err.headers.authorization',
];

/** Creates the service's root logger. Child loggers carry `requestId`, `connectionId`, `jobId`. */
export function createLogger(
  service: string,
  level: LogLevel,
  destination?: DestinationStream,
): Logger {
  const options: LoggerOptions = {
    level,
    base: { service },
    timestamp: pino.stdTimeFunctions.isoTime,
    redact: { paths: [...REDACTED_LOG_PATHS], censor: '[redacted]' },
    // A driver's error may quote the URL it was given (ioredis' "Invalid URL" keeps it whole in
    // `input`): whatever an error holds, a URL's user:password never reaches the log.
    serializers: {
      err: (error: unknown) => redactUrlCredentialsDeep(pino.stdSerializers.err(error as Error)),
    },
    formatters: { level: (label) => ({ level: label }) },
  };
  // Without a destination: stdout, written asynchronously. Lines logged while a write is in
  // flight go out together in the next one (one syscall for many lines under load, at once when
  // quiet); pino flushes what is left synchronously when the process exits.
  return pino(options, destination ?? pino.destination({ dest: 1, sync: false }));
}

export type { Logger };
