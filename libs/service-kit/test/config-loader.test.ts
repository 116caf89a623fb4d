// The one configuration loader: coercion, defaults, and one-line errors that name the variable.
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@fortellis-admin/contracts';
import { deepFreeze, loadEnv } from '@fortellis-admin/service-kit';

const schema = {
  type: 'object',
  required: ['REDIS_URL', 'CLIENT_SECRET'],
  properties: {
    PORT: { type: 'integer', minimum: 1, maximum: 65535, default: 3000 },
    REDIS_URL: { type: 'string', pattern: '^rediss?://' },
    TRUST_PROXY: { type: 'boolean', default: false },
    LOG_LEVEL: { type: 'string', enum: ['debug', 'info', 'warn'], default: 'info' },
    CLIENT_SECRET: { type: 'string', minLength: 8, writeOnly: true },
  },
} as const;

const valid = { REDIS_URL: 'redis://127.0.0.1:6379', CLIENT_SECRET: 's3cret-value' };

function errorOf(env: Record<string, string>): ConfigError {
  try {
    loadEnv(schema, env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadEnv', () => {
  it('coerces values, fills defaults, ignores unrelated variables and freezes the result', () => {
    const config = loadEnv(schema, { ...valid, PORT: '8080', TRUST_PROXY: 'true', HOME: '/root' });
    expect(config).toEqual({ ...valid, PORT: 8080, TRUST_PROXY: true, LOG_LEVEL: 'info' });
    expect(Object.isFrozen(config)).toBe(true);
    expect('HOME' in config).toBe(false);
  });

  it('names a missing variable in one line', () => {
    const error = errorOf({ CLIENT_SECRET: valid.CLIENT_SECRET });
    expect(error.message).toBe('invalid configuration: REDIS_URL is required but not set');
    expect(error.variable).toBe('REDIS_URL');
    expect(error.code).toBe('CONFIG_INVALID');
  });

  it('treats an empty value as missing', () => {
    expect(errorOf({ ...valid, REDIS_URL: '  ' }).variable).toBe('REDIS_URL');
  });

  it('names a malformed variable with what is wrong and the value it got', () => {
    expect(errorOf({ ...valid, PORT: 'eighty' }).message).toBe(
      'invalid configuration: PORT must be integer (got "eighty")',
    );
    expect(errorOf({ ...valid, LOG_LEVEL: 'loud' }).message).toBe(
      'invalid configuration: LOG_LEVEL must be one of debug, info, warn (got "loud")',
    );
    expect(errorOf({ ...valid, PORT: '70000' }).message).toMatch(
      /^invalid configuration: PORT must be <= 65535/,
    );
  });

  it('never echoes the value of a secret', () => {
    const error = errorOf({ ...valid, CLIENT_SECRET: 'short' });
    expect(error.message).toBe(
      'invalid configuration: CLIENT_SECRET must NOT have fewer than 8 characters',
    );
    expect(error.message).not.toContain('short"');
  });
});

describe('deepFreeze', () => {
  it('freezes nested objects', () => {
    const value = deepFreeze({ http: { port: 1 }, list: [{ a: 1 }] });
    expect(Object.isFrozen(value.http)).toBe(true);
    expect(Object.isFrozen(value.list[0])).toBe(true);
  });
});
