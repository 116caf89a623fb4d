// The deprovision worker process: starts with a valid environment, stops on SIGTERM, refuses a bad one.
import { describe, expect, inject, it } from 'vitest';
import { createTestNamespace, runServiceToExit, startService } from '@fortellis-admin/test-support';

/** What the refusal of a missing REDIS_URL adds: the other ways to say where Redis is. */
const REDIS_ALTERNATIVES =
  ' (or REDIS_SENTINELS with REDIS_SENTINEL_MASTER, or REDIS_CLUSTER_NODES)';

const ns = createTestNamespace('deprovision-main');

function validEnv(): NodeJS.ProcessEnv {
  return {
    REDIS_URL: inject('redisUrl'),
    MONGODB_URL: inject('mongoUrl'),
    MONGODB_DATABASE: ns.dbName,
    QUEUE_PREFIX: ns.queuePrefix,
    BACKEND_DEPROVISIONER: 'none',
  };
}

describe('deprovision worker main', () => {
  it('starts with a valid environment, says what it will not do, and exits 0 on SIGTERM', async () => {
    const service = await startService('deprovision-worker', validEnv());
    await service.stop();
    expect(service.child.exitCode).toBe(0);
    expect(service.output()).toContain('backend deprovisioner is \\"none\\"');
    expect(service.output()).toContain('deactivations will not be reported');
  });

  it.each(['REDIS_URL', 'MONGODB_URL', 'BACKEND_DEPROVISIONER'])(
    'refuses to start without %s, with one line naming it',
    async (variable) => {
      const env = validEnv();
      delete env[variable];
      const result = await runServiceToExit('deprovision-worker', env);
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(
        `deprovision-worker: invalid configuration: ${variable} is required but not set${variable === 'REDIS_URL' ? REDIS_ALTERNATIVES : ''}\n`,
      );
    },
  );

  it('needs BACKEND_DEPROVISION_URL when the deprovisioner is http', async () => {
    const result = await runServiceToExit('deprovision-worker', {
      ...validEnv(),
      BACKEND_DEPROVISIONER: 'http',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'deprovision-worker: invalid configuration: BACKEND_DEPROVISION_URL is required but not set\n',
    );
  });

  it('needs the client credentials once the status API is configured', async () => {
    const result = await runServiceToExit('deprovision-worker', {
      ...validEnv(),
      INTEGRATION_STATUS_BASE_URL: 'http://127.0.0.1:9',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'deprovision-worker: invalid configuration: INTEGRATION_STATUS_CLIENT_ID is required but not set\n',
    );
  });
});
