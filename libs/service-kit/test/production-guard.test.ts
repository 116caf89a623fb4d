// What the one config loader refuses with NODE_ENV=production, what it lets through with an ALLOW_*
// setting (as warnings), and that a URL's credentials never appear in an error or a log line.
import { Writable } from 'node:stream';
import { Redis } from 'ioredis';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@fortellis-admin/contracts';
import {
  createLogger,
  loadEnv,
  outsideUrlProperty,
  PUBLISHED_TEST_VALUES,
  redactUrlCredentials,
  REDIS_ENV_PROPERTIES,
  runtimeEnvProperties,
} from '@fortellis-admin/service-kit';

const schema = {
  type: 'object',
  required: ['REDIS_URL'],
  properties: {
    ...REDIS_ENV_PROPERTIES,
    ...runtimeEnvProperties(10_000),
    PARTNER_URL: outsideUrlProperty('A partner the service calls.'),
    CLIENT_ID: { type: 'string', minLength: 1 },
    CLIENT_SECRET: { type: 'string', minLength: 1, writeOnly: true },
    KEYS: { type: 'string', minLength: 1, writeOnly: true },
  },
} as const;

const base = {
  REDIS_URL: 'redis://127.0.0.1:6379',
  PARTNER_URL: 'https://partner.example.com/api',
  CLIENT_ID: 'provider-client',
  CLIENT_SECRET: 'a-secret-of-our-own',
};
const production = { ...base, NODE_ENV: 'production' };

function refusal(env: Record<string, string>): ConfigError {
  try {
    loadEnv(schema, env);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('with NODE_ENV=production', () => {
  it('accepts https: outside URLs and values of its own, with no warning', () => {
    const loaded = loadEnv(schema, production);
    expect(loaded.PARTNER_URL).toBe(production.PARTNER_URL);
    expect(loaded.startupWarnings).toEqual([]);
  });

  it('refuses an http: outside URL, naming the variable and the way out', () => {
    const error = refusal({ ...production, PARTNER_URL: 'http://partner.example.com/api' });
    expect(error.variable).toBe('PARTNER_URL');
    expect(error.message).toBe(
      'invalid configuration: PARTNER_URL must be an https: URL when NODE_ENV=production (ALLOW_INSECURE_HTTP=true allows http: for a local stack)',
    );
  });

  it('with ALLOW_INSECURE_HTTP=true accepts it and returns a warning naming it (credentials and query dropped)', () => {
    const loaded = loadEnv(schema, {
      ...production,
      PARTNER_URL: 'http://user:hunter2@partner.example.com/api?key=1',
      ALLOW_INSECURE_HTTP: 'true',
    });
    expect(loaded.startupWarnings).toEqual([
      { variable: 'ALLOW_INSECURE_HTTP', message: expect.stringContaining('plain http') },
      {
        variable: 'PARTNER_URL',
        url: 'http://[redacted]@partner.example.com/api',
        message: expect.stringContaining('PARTNER_URL is plain http'),
      },
    ]);
    expect(JSON.stringify(loaded.startupWarnings)).not.toContain('hunter2');
    // The warnings ride along without being one of the variables.
    expect(Object.keys(loaded)).not.toContain('startupWarnings');
  });

  it.each(PUBLISHED_TEST_VALUES.map((value) => [value]))(
    'refuses the published value %s in any variable, never echoing it',
    (value) => {
      for (const [name, env] of [
        ['CLIENT_SECRET', { CLIENT_SECRET: value }],
        ['CLIENT_ID', { CLIENT_ID: value }],
        // In a rotation list, or as the token of a name=token pair.
        ['KEYS', { KEYS: `c2VsZi1tYWRlLWtleQ==,${value}` }],
        ['KEYS', { KEYS: `me=${value}` }],
      ] as const) {
        const error = refusal({ ...production, ...env });
        expect(error.variable).toBe(name);
        expect(error.message).toBe(
          `invalid configuration: ${name} holds a value the simulator publishes for tests; set your own when NODE_ENV=production`,
        );
        expect(error.message).not.toContain(value);
      }
    },
  );

  it('with ALLOW_SIMULATOR_CREDENTIALS=true accepts them, one warning per variable', () => {
    const loaded = loadEnv(schema, {
      ...production,
      CLIENT_ID: 'sim-provider-client',
      CLIENT_SECRET: 'sim-provider-secret',
      ALLOW_SIMULATOR_CREDENTIALS: 'true',
    });
    expect(loaded.startupWarnings.map((warning) => warning.variable)).toEqual([
      'ALLOW_SIMULATOR_CREDENTIALS',
      'CLIENT_ID',
      'CLIENT_SECRET',
    ]);
    expect(JSON.stringify(loaded.startupWarnings)).not.toContain('sim-provider-secret');
  });

  it('an ALLOW_* setting must be a boolean', () => {
    expect(refusal({ ...production, ALLOW_INSECURE_HTTP: 'yes' }).variable).toBe(
      'ALLOW_INSECURE_HTTP',
    );
  });
});

describe('outside production', () => {
  it('accepts http: URLs and the published values, with no warning', () => {
    const loaded = loadEnv(schema, {
      ...base,
      NODE_ENV: 'test',
      PARTNER_URL: 'http://127.0.0.1:4010/api',
      CLIENT_SECRET: 'sim-provider-secret',
    });
    expect(loaded.startupWarnings).toEqual([]);
  });
});

describe('credentials inside URLs', () => {
  it('a refused REDIS_URL is shown with its user:password redacted', () => {
    const error = refusal({ ...base, REDIS_URL: 'http://default:hunter2@redis.internal:6379/0' });
    expect(error.message).toBe(
      'invalid configuration: REDIS_URL must match pattern "^rediss?://" (got "http://[redacted]@redis.internal:6379/0")',
    );
  });

  it('a refused value holding an @ in a shape the redaction does not know is not shown at all', () => {
    const error = refusal({ ...base, REDIS_URL: 'default:hunter2@redis.internal:6379' });
    expect(error.message).toBe('invalid configuration: REDIS_URL must match pattern "^rediss?://"');
  });

  it.each([
    ['redis://:pw@host:6379', 'redis://[redacted]@host:6379'],
    [
      'mongodb://user:p@ss/w0rd@h1:27017,h2:27017/db?replicaSet=rs0',
      'mongodb://[redacted]@h1:27017,h2:27017/db?replicaSet=rs0',
    ],
    ['connect to rediss://u:p@h:6380 failed', 'connect to rediss://[redacted]@h:6380 failed'],
    ['redis://host:6379/?password=hunter2&db=1', 'redis://host:6379/?password=[redacted]&db=1'],
    ['https://partner.example.com/api', 'https://partner.example.com/api'],
  ])('redacts %s', (text, redacted) => {
    expect(redactUrlCredentials(text)).toBe(redacted);
  });

  it("the logger never prints the URL ioredis quotes in its 'Invalid URL' error", () => {
    let thrown: unknown;
    try {
      new Redis('redis://admin:hunter2@redis.internal:notaport', { lazyConnect: true });
    } catch (error) {
      thrown = error;
    }
    // What the driver does: the whole URL, password included, in the error's `input`.
    expect(JSON.stringify(thrown)).toContain('hunter2');
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    createLogger('test', 'info', sink).error({ err: thrown }, 'failed to start');
    expect(lines.join('')).toContain('redis://[redacted]@redis.internal:notaport');
    expect(lines.join('')).not.toContain('hunter2');
  });
});
