// The approval worker process: starts with a valid environment, stops on SIGTERM, refuses a bad one.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, inject, it } from 'vitest';
import { createTestNamespace, runServiceToExit, startService } from '@fortellis-admin/test-support';

/** What the refusal of a missing REDIS_URL adds: the other ways to say where Redis is. */
const REDIS_ALTERNATIVES =
  ' (or REDIS_SENTINELS with REDIS_SENTINEL_MASTER, or REDIS_CLUSTER_NODES)';

const ns = createTestNamespace('approval-main');

function validEnv(): NodeJS.ProcessEnv {
  return {
    REDIS_URL: inject('redisUrl'),
    MONGODB_URL: inject('mongoUrl'),
    MONGODB_DATABASE: ns.dbName,
    QUEUE_PREFIX: ns.queuePrefix,
    FORTELLIS_CALLBACK_BASE_URL: 'http://127.0.0.1:9',
    FORTELLIS_TOKEN_URL: 'http://127.0.0.1:9/oauth2/aus1p1ixy7YL8cMq02p7/v1/token',
    FORTELLIS_CLIENT_ID: 'provider-client-id',
    FORTELLIS_CLIENT_SECRET: 'provider-client-secret',
  };
}

describe('approval worker main', () => {
  it('starts with a valid environment and exits 0 on SIGTERM', async () => {
    const service = await startService('approval-worker', validEnv());
    await service.stop();
    expect(service.child.exitCode).toBe(0);
    expect(service.output()).toContain('"msg":"approval-worker stopped"');
  });

  it('warns at start-up when every activation is approved by default, without rules', async () => {
    const warning =
      'APPROVAL_DEFAULT_ACTION=approve and no APPROVAL_RULES_FILE: every activation is approved, none is reviewed';
    const approving = await startService('approval-worker', {
      ...validEnv(),
      APPROVAL_DEFAULT_ACTION: 'approve',
    });
    await approving.stop();
    const line = approving
      .output()
      .split('\n')
      .find((entry) => entry.includes(warning));
    expect(line).toBeDefined();
    expect(JSON.parse(line!)).toMatchObject({ level: 'warn', defaultAction: 'approve' });
    const reviewing = await startService('approval-worker', validEnv());
    await reviewing.stop();
    expect(reviewing.output()).not.toContain(warning);
  });

  it.each([
    'REDIS_URL',
    'MONGODB_URL',
    'FORTELLIS_CALLBACK_BASE_URL',
    'FORTELLIS_TOKEN_URL',
    'FORTELLIS_CLIENT_ID',
    'FORTELLIS_CLIENT_SECRET',
  ])('refuses to start without %s, with one line naming it', async (variable) => {
    const env = validEnv();
    delete env[variable];
    const result = await runServiceToExit('approval-worker', env);
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      `approval-worker: invalid configuration: ${variable} is required but not set${variable === 'REDIS_URL' ? REDIS_ALTERNATIVES : ''}\n`,
    );
  });

  it('refuses a rules file with a pattern that may backtrack catastrophically, naming its line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'approval-rules-'));
    const file = join(dir, 'rules.yaml');
    await writeFile(
      file,
      "rules:\n  - id: slow\n    when:\n      userInfo.domain: { pattern: '^(a+)+$' }\n    action: approve\n",
    );
    const result = await runServiceToExit('approval-worker', {
      ...validEnv(),
      APPROVAL_RULES_FILE: file,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(
      `approval-worker: invalid configuration: APPROVAL_RULES_FILE (${file}) is invalid: /rules/0/when/userInfo.domain/pattern (rule "slow", line 4, column 35) may backtrack catastrophically`,
    );
  });

  it('refuses an unknown default action, listing the allowed ones', async () => {
    const result = await runServiceToExit('approval-worker', {
      ...validEnv(),
      APPROVAL_DEFAULT_ACTION: 'maybe',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(
      'approval-worker: invalid configuration: APPROVAL_DEFAULT_ACTION must be one of approve, reject, review (got "maybe")\n',
    );
  });
});
