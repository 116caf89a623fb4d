// The four service processes with NODE_ENV=production (what the images set) and the simulator's
// settings: each refuses http: outside URLs and the simulator's published values at start-up, with
// one line naming the variable and never the value; with both ALLOW_* settings (compose's sim
// profile) each starts and says so in warnings; a password inside REDIS_URL or MONGODB_URL never
// reaches the output.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type Simulator } from '@fortellis-admin/simulator';
import { PUBLISHED_TEST_VALUES, holdsPublishedTestValue } from '@fortellis-admin/service-kit';
import {
  runServiceToExit,
  startService,
  type ManagedProcess,
  type ServiceName,
} from '@fortellis-admin/test-support';
import { stackEnv } from '@fortellis-admin/test-support/in-vitest';

const SERVICES: ServiceName[] = ['ingress', 'operations', 'approval-worker', 'deprovision-worker'];
const PASSWORD = 'Pa55-w0rd-never-printed';
let sim: Simulator;
let env: Record<string, string>;

beforeAll(async () => {
  sim = await startSimulator();
  const operator = { name: 'alice', token: randomBytes(36).toString('base64url') };
  ({ env } = await stackEnv(sim.env(), 'e2e-production', operator, { NODE_ENV: 'production' }));
});
afterAll(async () => {
  await sim.stop();
});

describe("the simulator's published values", () => {
  it('every client id, secret and key the simulator hands the services is on the refused list', async () => {
    const withBackendAuth = await startSimulator({
      backendAuth: { header: 'x-api-key', value: 'backend-secret' },
    });
    try {
      const published = Object.entries(withBackendAuth.env()).filter(([name]) =>
        /(_CLIENT_ID|_SECRET|_KEY)$/.test(name),
      );
      expect(published.map(([name]) => name)).toEqual(
        expect.arrayContaining([
          'FORTELLIS_CLIENT_ID',
          'FORTELLIS_CLIENT_SECRET',
          'PROVISIONING_CREDENTIALS_KEY',
          'BACKEND_PROVISION_SECRET',
          'INTEGRATION_STATUS_CLIENT_SECRET',
        ]),
      );
      for (const [name, value] of published)
        expect(holdsPublishedTestValue(value), name).toBe(true);
    } finally {
      await withBackendAuth.stop();
    }
  });
});

describe('with NODE_ENV=production and the simulator settings', () => {
  it.each(['ingress', 'approval-worker', 'deprovision-worker'] as const)(
    '%s refuses an http: outside URL, in one line naming it',
    async (service) => {
      const result = await runServiceToExit(service, env);
      expect(result.code).toBe(1);
      expect(result.stdout).toBe('');
      expect(result.stderr).toMatch(
        new RegExp(
          `^${service}: invalid configuration: [A-Z_]+ must be an https: URL when NODE_ENV=production \\(ALLOW_INSECURE_HTTP=true allows http: for a local stack\\)\\n$`,
        ),
      );
    },
  );

  it.each([
    ['ingress', 'FORTELLIS_CLIENT_ID'],
    ['approval-worker', 'FORTELLIS_CLIENT_ID'],
    ['deprovision-worker', 'INTEGRATION_STATUS_CLIENT_ID'],
  ] as const)(
    '%s with http allowed still refuses the simulator values, naming %s and no value',
    async (service, variable) => {
      const result = await runServiceToExit(service, { ...env, ALLOW_INSECURE_HTTP: 'true' });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        `${service}: invalid configuration: ${variable} holds a value the simulator publishes for tests; set your own when NODE_ENV=production\n`,
      );
      for (const value of PUBLISHED_TEST_VALUES) expect(result.stderr).not.toContain(value);
    },
  );

  it('with ALLOW_INSECURE_HTTP and ALLOW_SIMULATOR_CREDENTIALS (the sim profile) all four start, warning about each', async () => {
    const started: ManagedProcess[] = [];
    // Each process's output as it was once started (its start-up lines, before later logs).
    const startUp = new Map<ServiceName, string>();
    try {
      for (const service of SERVICES) {
        const running = await startService(service, {
          ...env,
          ALLOW_INSECURE_HTTP: 'true',
          ALLOW_SIMULATOR_CREDENTIALS: 'true',
        });
        started.push(running);
        startUp.set(service, running.output());
      }
    } finally {
      for (const running of started.reverse()) await running.stop();
    }
    const warned = (service: ServiceName) =>
      (startUp.get(service) ?? '')
        .split('\n')
        .filter((line) => line.includes('"event":"insecure_setting"'))
        .map((line) => (JSON.parse(line) as { variable: string }).variable);
    expect(warned('ingress')).toEqual([
      'ALLOW_INSECURE_HTTP',
      'ALLOW_SIMULATOR_CREDENTIALS',
      'FORTELLIS_ISSUER',
      'FORTELLIS_JWKS_URL',
      'FORTELLIS_CLIENT_ID',
    ]);
    expect(warned('operations')).toEqual(['ALLOW_INSECURE_HTTP', 'ALLOW_SIMULATOR_CREDENTIALS']);
    expect(warned('approval-worker')).toEqual(
      expect.arrayContaining([
        'FORTELLIS_CALLBACK_BASE_URL',
        'FORTELLIS_TOKEN_URL',
        'FORTELLIS_CLIENT_SECRET',
        'BACKEND_PROVISION_URL',
        'PROVISIONING_CREDENTIALS_KEY',
      ]),
    );
    expect(warned('deprovision-worker')).toEqual(
      expect.arrayContaining([
        'BACKEND_DEPROVISION_URL',
        'INTEGRATION_STATUS_BASE_URL',
        'INTEGRATION_STATUS_CLIENT_SECRET',
      ]),
    );
    const secrets = PUBLISHED_TEST_VALUES.filter((v) => v.includes('secret') || v.endsWith('='));
    for (const output of startUp.values()) {
      for (const value of secrets) expect(output).not.toContain(value);
    }
  });
});

describe('a password inside REDIS_URL or MONGODB_URL never reaches the output', () => {
  const safe = { ALLOW_INSECURE_HTTP: 'true', ALLOW_SIMULATOR_CREDENTIALS: 'true' };

  it.each(SERVICES.filter((service) => service !== 'ingress'))(
    '%s: a MONGODB_URL the pattern refuses is named, its credentials redacted',
    async (service) => {
      const result = await runServiceToExit(service, {
        ...env,
        ...safe,
        MONGODB_URL: `mongo://admin:${PASSWORD}@mongo.internal:27017/?replicaSet=rs0`,
      });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        `${service}: invalid configuration: MONGODB_URL must match pattern "^mongodb(\\+srv)?://" (got "mongo://[redacted]@mongo.internal:27017/?replicaSet=rs0")\n`,
      );
    },
  );

  it.each(SERVICES)(
    '%s: a REDIS_URL the Redis client cannot parse fails the start without printing the password',
    async (service) => {
      const result = await runServiceToExit(service, {
        ...env,
        ...safe,
        REDIS_URL: `redis://admin:${PASSWORD}@redis.internal:notaport`,
      });
      expect(result.code).toBe(1);
      expect(result.stdout).toContain(`"msg":"${service} failed to start"`);
      expect(result.stdout + result.stderr).not.toContain(PASSWORD);
    },
  );
});
