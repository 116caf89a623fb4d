// Runs a service's composition root: loads config, starts, and stops cleanly on SIGTERM/SIGINT.
import type { Logger } from 'pino';
import { ConfigError } from '@fortellis-admin/contracts';
import type { StartupWarning } from './production-guard.ts';
import { redactUrlCredentials } from './url-redaction.ts';

/** How long a process that hit an unhandled error may spend closing before it exits anyway. */
export const FATAL_STOP_BOUND_MS = 5000;

/** What a started service hands back: how to stop it. */
export interface RunningService {
  /** Stops accepting work, finishes or releases what is in flight, closes connections. */
  stop(): Promise<void>;
}

export interface ServiceDefinition<C> {
  name: string;
  /**
   * Reads and validates the configuration; throws ConfigError on a bad variable. The
   * `startupWarnings` of a loaded environment, on the result or one of its members, are logged.
   */
  loadConfig(): C;
  /** Creates the logger from the validated configuration. */
  createLogger(config: C): Logger;
  /** Connects, wires and starts the service. */
  start(config: C, logger: Logger): Promise<RunningService>;
  /** Upper bound on a clean stop before the process exits anyway. Default 30 s. */
  stopTimeoutMs?(config: C): number;
}

/**
 * The body of every `main.ts`. A configuration error prints one line to stderr and exits 1;
 * a start failure is logged and exits 1; SIGTERM or SIGINT stops the service and exits 0
 * (or 1 if stopping failed or took longer than allowed). An uncaught exception or unhandled
 * rejection is logged as fatal, the service is stopped within {@link FATAL_STOP_BOUND_MS}, and the
 * process exits 1.
 */
export async function runService<C>(definition: ServiceDefinition<C>): Promise<void> {
  let config: C;
  try {
    config = definition.loadConfig();
  } catch (error) {
    const line =
      error instanceof ConfigError ? error.message : `cannot load configuration: ${String(error)}`;
    process.stderr.write(`${definition.name}: ${redactUrlCredentials(line)}\n`);
    process.exitCode = 1;
    return;
  }
  const logger = definition.createLogger(config);
  // What an ALLOW_* setting let through in production: loud, once per variable, before anything.
  for (const warning of startupWarningsOf(config)) {
    logger.warn(
      { event: 'insecure_setting', variable: warning.variable, url: warning.url },
      warning.message,
    );
  }
  const timeoutMs = definition.stopTimeoutMs?.(config) ?? 30_000;
  let running: RunningService | undefined;
  let stopping = false;

  // A throw or rejection nothing handles leaves the process in an unknown state: log it, close what
  // can be closed within a short bound, and exit non-zero so the orchestrator starts a clean one.
  // Jobs in hand are released by their lapsing locks; nothing was acknowledged that is not stored.
  const fatal = (kind: string, error: unknown): void => {
    logger.fatal({ err: error, kind }, `${definition.name}: ${kind}: exiting`);
    if (stopping || running === undefined) process.exit(1);
    stopping = true;
    const timer = setTimeout(() => process.exit(1), Math.min(timeoutMs, FATAL_STOP_BOUND_MS));
    timer.unref();
    running.stop().then(
      () => process.exit(1),
      () => process.exit(1),
    );
  };
  process.on('uncaughtException', (error) => fatal('uncaughtException', error));
  process.on('unhandledRejection', (reason) => fatal('unhandledRejection', reason));

  try {
    running = await definition.start(config, logger);
  } catch (error) {
    logger.fatal({ err: error }, `${definition.name} failed to start`);
    process.exit(1);
  }
  logger.info(`${definition.name} started`);
  const started = running;

  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, `${definition.name} stopping`);
    const timer = setTimeout(() => {
      logger.error({ timeoutMs }, `${definition.name} did not stop in time`);
      process.exit(1);
    }, timeoutMs);
    timer.unref();
    started.stop().then(
      () => {
        logger.info(`${definition.name} stopped`);
        clearTimeout(timer);
        process.exitCode = 0;
      },
      (error: unknown) => {
        logger.error({ err: error }, `${definition.name} failed to stop cleanly`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

/**
 * The `startupWarnings` (from loadEnv) a configuration carries, on itself or on one of its members
 * (a main.ts may return `{ config, policy }`).
 */
function startupWarningsOf(config: unknown): readonly StartupWarning[] {
  const own = (value: unknown): readonly StartupWarning[] | undefined => {
    if (value === null || typeof value !== 'object' || !('startupWarnings' in value))
      return undefined;
    const warnings = value.startupWarnings;
    return Array.isArray(warnings) ? (warnings as StartupWarning[]) : undefined;
  };
  if (config === null || typeof config !== 'object') return [];
  return own(config) ?? Object.values(config).flatMap((member) => own(member) ?? []);
}
