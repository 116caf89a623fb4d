// What start-up refuses when NODE_ENV=production: an outside party's URL that is not https:, and
// any value this repository publishes for the simulator and its tests. Two explicit settings let
// the local stack (compose's sim profile) through, each logged loudly at start-up.
import { ConfigError } from '@fortellis-admin/contracts';
import { redactUrlCredentials } from './url-redaction.ts';

/**
 * The schema keyword marking a variable as the URL of an outside party the service calls or
 * trusts (JWKS, token, callback, status API, backend): https: in production.
 */
export const OUTSIDE_URL_KEYWORD = 'x-outside-url';

/** A string variable holding the URL of an outside party: `http(s)://`, https: in production. */
export function outsideUrlProperty<const D extends string>(description: D) {
  return {
    description,
    type: 'string',
    pattern: '^https?://',
    [OUTSIDE_URL_KEYWORD]: true,
  } as const;
}

/**
 * Values published in this repository for the simulator and the tests (its client ids and secrets,
 * the credentials key of TEST_CREDENTIALS_KEY, the tests' backend secret). Anyone can read them,
 * so a production process refuses each of them in any variable.
 */
export const PUBLISHED_TEST_VALUES: readonly string[] = Object.freeze([
  'sim-provider-client',
  'sim-provider-secret',
  'sim-integration-client',
  'sim-integration-secret',
  // TEST_CREDENTIALS_KEY: base64 of 32 bytes of 'fortellis-admin-test-only-key'.
  'Zm9ydGVsbGlzLWFkbWluLXRlc3Qtb25seS1rZXlmb3I=',
  'backend-secret',
]);

/**
 * The settings of the production checks; every service has them (runtimeEnvProperties). The loader
 * reads them from the environment itself too, so the checks hold for any schema.
 */
export const PRODUCTION_GUARD_ENV_PROPERTIES = {
  NODE_ENV: {
    description:
      'production (the images set it) turns on the start-up checks: outside URLs must be https:, and the values the simulator publishes are refused.',
    type: 'string',
    minLength: 1,
  },
  ALLOW_INSECURE_HTTP: {
    description:
      'With NODE_ENV=production, accept http: URLs of outside parties (JWKS, token, callback, status API, backend); each is logged as a warning at start-up. For the local stack and the simulator only.',
    type: 'boolean',
    default: false,
  },
  ALLOW_SIMULATOR_CREDENTIALS: {
    description:
      "With NODE_ENV=production, accept the simulator's published client ids, secrets and test key; each variable holding one is logged as a warning at start-up. For compose's sim profile only.",
    type: 'boolean',
    default: false,
  },
} as const;

/** Something start-up let through on purpose and logs as a warning once the logger exists. */
export interface StartupWarning {
  /** The variable concerned, or the allowing setting itself. */
  variable: string;
  message: string;
  /** The http: URL accepted, credentials redacted. */
  url?: string;
}

type Env = Readonly<Record<string, string | undefined>>;

interface Guard {
  production: boolean;
  allowInsecureHttp: boolean;
  allowSimulatorCredentials: boolean;
}

function flag(env: Env, name: keyof typeof PRODUCTION_GUARD_ENV_PROPERTIES): boolean {
  const raw = env[name]?.trim() ?? '';
  if (raw === '' || raw === 'false') return false;
  if (raw === 'true') return true;
  throw new ConfigError(name, `must be boolean (got ${JSON.stringify(raw.slice(0, 20))})`);
}

/** Reads the guard's settings from the environment itself, whatever a service's schema lists. */
function guardOf(env: Env): Guard {
  return {
    production: env.NODE_ENV?.trim() === 'production',
    allowInsecureHttp: flag(env, 'ALLOW_INSECURE_HTTP'),
    allowSimulatorCredentials: flag(env, 'ALLOW_SIMULATOR_CREDENTIALS'),
  };
}

/**
 * True when `value`, one of its comma- or space-separated parts (a key rotation list), or what
 * follows the first `=` of a part (the token of a `name=token` pair) is a published value.
 */
export function holdsPublishedTestValue(value: string): boolean {
  const parts = value.split(/[\s,;]+/);
  const candidates = [value, ...parts, ...parts.map((part) => part.slice(part.indexOf('=') + 1))];
  return candidates.some((candidate) => PUBLISHED_TEST_VALUES.includes(candidate.trim()));
}

/**
 * The production checks over the loaded variables (`loaded`: name -> value, as coerced). Throws a
 * ConfigError naming the first variable refused, never its value; returns what was let through
 * by an ALLOW_* setting, to be logged as warnings.
 */
export function checkProductionSettings(
  properties: Readonly<Record<string, Readonly<Record<string, unknown>>>>,
  loaded: Readonly<Record<string, unknown>>,
  env: Env,
): StartupWarning[] {
  const guard = guardOf(env);
  if (!guard.production) return [];
  const warnings: StartupWarning[] = [];
  if (guard.allowInsecureHttp) {
    warnings.push({
      variable: 'ALLOW_INSECURE_HTTP',
      message:
        'ALLOW_INSECURE_HTTP=true in production: outside parties may be reached over plain http (local stack and simulator only)',
    });
  }
  if (guard.allowSimulatorCredentials) {
    warnings.push({
      variable: 'ALLOW_SIMULATOR_CREDENTIALS',
      message:
        "ALLOW_SIMULATOR_CREDENTIALS=true in production: the simulator's published test values are accepted (compose's sim profile only)",
    });
  }
  for (const [name, property] of Object.entries(properties)) {
    const value = loaded[name];
    if (typeof value !== 'string') continue;
    if (property[OUTSIDE_URL_KEYWORD] === true && !/^https:\/\//i.test(value)) {
      if (!guard.allowInsecureHttp) {
        throw new ConfigError(
          name,
          'must be an https: URL when NODE_ENV=production (ALLOW_INSECURE_HTTP=true allows http: for a local stack)',
        );
      }
      warnings.push({
        variable: name,
        url: redactUrlCredentials(value).split(/[?#]/)[0] ?? '',
        message: `${name} is plain http (allowed by ALLOW_INSECURE_HTTP): no TLS to this party`,
      });
    }
    if (holdsPublishedTestValue(value)) {
      if (!guard.allowSimulatorCredentials) {
        throw new ConfigError(
          name,
          'holds a value the simulator publishes for tests; set your own when NODE_ENV=production',
        );
      }
      warnings.push({
        variable: name,
        message: `${name} holds a value the simulator publishes (allowed by ALLOW_SIMULATOR_CREDENTIALS)`,
      });
    }
  }
  return warnings;
}
