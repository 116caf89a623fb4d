// The structured logger every service uses: pino, JSON to stdout, secrets and personal data redacted.
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';

/** Log levels a service accepts in `LOG_LEVEL`. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/**
 * Paths that never reach a log line: tokens, secrets, and the personal data of an activation
 * (emails, phone numbers, addresses). `*` covers one level, so payloads logged under any key
 * (`activation`, `body`, `payload`) are redacted too.
 */
export const REDACTED_LOG_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'authorization',
  'token',
  'accessToken',
  'access_token',
  'clientSecret',
  'client_secret',
  'password',
  'secret',
  '*.authorization',
  '*.token',
  '*.accessToken',
  '*.access_token',
  '*.clientSecret',
  '*.client_secret',
  '*.password',
  '*.secret',
  '*.organizationInfo.address',
  '*.organizationInfo.phoneNumber',
  '*.entityInfo.address',
  '*.entityInfo.phoneNumber',
  '*.appInfo.contactEmail',
  '*.appInfo.developer',
  '*.solutionInfo.contactEmail',
  '*.solutionInfo.developer',
  '*.userInfo.fortellisId',
  'organizationInfo.address',
  'organizationInfo.phoneNumber',
  'appInfo.contactEmail',
  'appInfo.developer',
  'userInfo.fortellisId',
  'email',
  'phoneNumber',
  'address',
  '*.email',
  '*.phoneNumber',
  '*.address',
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
    formatters: { level: (label) => ({ level: label }) },
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}

export type { Logger };
