// `npm run rules:check`, run as a process the way an operator runs it: a bad rules file's problems
// with file:line:column and the rule's id (exit 1); a good one tried on a samples file and on the
// last stored activations of a real MongoDB-wire server (exit 0); usage errors (exit 2).
import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Redis } from 'ioredis';
import { MongoClient } from 'mongodb';
import { ConnectionRepository } from '@fortellis-admin/connection-store';
import { ActivationGenerator } from '@fortellis-admin/simulator';
import { REPO_ROOT, baseEnv, createTestNamespace } from '@fortellis-admin/test-support';

const RULES = `defaultAction: review
rules:
  - id: no-test-orgs
    when:
      userInfo.domain: { pattern: '^test\\.example$' }
    action: reject
    reason: Test organizations cannot subscribe.
  - id: appointments
    when:
      apiInfo.id: { equals: v1-appointments }
    action: approve
`;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function rulesCheck(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [`${REPO_ROOT}scripts/rules-check.ts`, ...args],
      { cwd: REPO_ROOT, env: { ...baseEnv(), DEV_STACK_FILE: join(dir, 'none.json'), ...env } },
      (error, stdout, stderr) =>
        resolve({ code: error === null ? 0 : Number(error.code), stdout, stderr }),
    );
  });
}

const generator = new ActivationGenerator(8080);
const appointment = {
  ...generator.next(),
  apiInfo: { id: 'v1-appointments', name: 'Appointments', implementationName: 'x' },
};
const tester = { ...generator.next(), userInfo: { fortellisId: 'qa@test.example' } };
let dir: string;
const ns = createTestNamespace('rules-check');
let mongo: MongoClient;
let redis: Redis;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'rules-check-'));
  await writeFile(join(dir, 'rules.yaml'), RULES);
  await writeFile(join(dir, 'bad.yaml'), RULES.replace('action: approve', 'action: allow'));
  await writeFile(join(dir, 'samples.json'), JSON.stringify([appointment, tester]));
  mongo = new MongoClient(inject('mongoUrl'));
  redis = new Redis(inject('redisUrl'));
});

afterAll(async () => {
  await mongo.db(ns.dbName).dropDatabase();
  await mongo.close();
  redis.disconnect();
});

describe('npm run rules:check', () => {
  it('lists the problems of a bad file as file:line:column with the rule, and exits 1', async () => {
    const run = await rulesCheck([join(dir, 'bad.yaml')]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe(
      `${join(dir, 'bad.yaml')}: 1 problem\n  ${join(dir, 'bad.yaml')}:11:13  /rules/1/action (rule "appointments") must be equal to one of the allowed values\n`,
    );
  });

  it('reports a pattern that may backtrack catastrophically at its line, and exits 1', async () => {
    const file = join(dir, 'catastrophic.yaml');
    await writeFile(
      file,
      RULES.replace("'^test\\.example$'", () => "'^(a+)+$'"),
    );
    const run = await rulesCheck([file]);
    expect(run.code).toBe(1);
    expect(run.stdout).toContain(
      `${file}:5:35  /rules/0/when/userInfo.domain/pattern (rule "no-test-orgs") may backtrack catastrophically`,
    );
  });

  it('shows which rule fires for each sample of a file and what would be sent', async () => {
    const run = await rulesCheck([join(dir, 'rules.yaml'), join(dir, 'samples.json')]);
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('rules.yaml: valid, 2 rules, default action review');
    expect(run.stdout).toContain(
      `#0 ${appointment.connectionId}  ${appointment.organizationInfo.name} (v1-appointments,`,
    );
    expect(run.stdout).toContain('rule appointments → approve; sends {"status":"accepted"}');
    expect(run.stdout).toContain(
      'rule no-test-orgs → reject; sends {"status":"rejected","error":"Test organizations cannot subscribe."}',
    );
    const json = JSON.parse(
      (await rulesCheck([join(dir, 'rules.yaml'), join(dir, 'samples.json'), '--json'])).stdout,
    ) as { valid: boolean; outcomes: Array<{ ruleId: string }> };
    expect(json.valid).toBe(true);
    expect(json.outcomes.map((o) => o.ruleId)).toEqual(['appointments', 'no-test-orgs']);
  });

  it('tries the last N activations stored in MONGODB_URL, newest first', async () => {
    const repo = ConnectionRepository.locked(mongo.db(ns.dbName), redis, ns.queuePrefix);
    const stored = [appointment, tester, generator.next()];
    for (const activation of stored)
      await repo.recordActivation({ activation, requestId: 'r', receivedAt: new Date() });
    const run = await rulesCheck([join(dir, 'rules.yaml'), '2', '--json'], {
      MONGODB_URL: inject('mongoUrl'),
      MONGODB_DATABASE: ns.dbName,
    });
    expect(run.code).toBe(0);
    const result = JSON.parse(run.stdout) as {
      outcomes: Array<{ connectionId: string; ruleId: string }>;
    };
    expect(result.outcomes.map((o) => [o.connectionId, o.ruleId])).toEqual([
      [stored[2]!.connectionId, 'default'],
      [tester.connectionId, 'no-test-orgs'],
    ]);
  });

  it('says how to use it, and exits 2, for a missing file or a number without a database', async () => {
    const usage = await rulesCheck([]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain('usage: npm run rules:check -- FILE [SAMPLES] [--json]');
    const missing = await rulesCheck([join(dir, 'nope.yaml')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toBe(`rules:check: ${join(dir, 'nope.yaml')} cannot be read: ENOENT\n`);
    const noDatabase = await rulesCheck([join(dir, 'rules.yaml'), '5']);
    expect(noDatabase.code).toBe(2);
    expect(noDatabase.stderr).toContain('set MONGODB_URL');
  });
});
