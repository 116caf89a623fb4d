// The dry run of a rules file: each problem with its rule and line, parse errors with their place,
// and for valid files which rule fires for each sample and what would be sent.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@fortellis-admin/contracts';
import { ActivationGenerator } from '@fortellis-admin/simulator';
import { checkRules } from './rules-check.ts';
import { loadApprovalPolicy } from './rules-file.ts';

const YAML_RULES = `defaultAction: review
rules:
  - id: block-test-orgs
    when:
      userInfo.domain: { pattern: '^test\\.example$' }
    action: reject
    reason: Test organizations cannot subscribe.
  - id: partners
    when:
      organizationInfo.countryCode: { oneOf: [US, CA] }
      apiInfo.id: { equals: v1-appointments }
    action: approve
`;

const check = (text: string, samples: unknown[] = [], format: 'json' | 'yaml' = 'yaml') =>
  checkRules({ text, format, fallbackAction: 'approve', samples });

describe('a rules file with problems', () => {
  it('lists each with its pointer, the rule it is in, and its line and column', () => {
    const text = YAML_RULES.replace('action: approve', 'action: accept').replace(
      "'^test\\.example$'",
      "'test\\.example'",
    );
    const result = check(text);
    expect(result.valid).toBe(false);
    expect(result.problems).toEqual([
      {
        pointer: '/rules/1/action',
        ruleId: 'partners',
        line: 12,
        column: 13,
        message: 'must be equal to one of the allowed values',
      },
    ]);
    // The schema's problems come first; a pattern is checked once the file has the right shape.
    const patternOnly = check(YAML_RULES.replace("'^test\\.example$'", "'test\\.example'"));
    expect(patternOnly.problems).toEqual([
      expect.objectContaining({
        pointer: '/rules/0/when/userInfo.domain/pattern',
        ruleId: 'block-test-orgs',
        line: 5,
        message: expect.stringContaining('must be anchored'),
      }),
    ]);
  });

  it('refuses a pattern that may backtrack catastrophically, at its rule and line', () => {
    const text = YAML_RULES.replace("'^test\\.example$'", () => "'^(a+)+$'");
    const result = check(text);
    expect(result.valid).toBe(false);
    expect(result.problems).toEqual([
      {
        pointer: '/rules/0/when/userInfo.domain/pattern',
        ruleId: 'block-test-orgs',
        line: 5,
        column: 35,
        message: expect.stringContaining('may backtrack catastrophically'),
      },
    ]);
    // The same nesting in a non-capturing group, a repeated group with a quantifier, and more
    // quantifiers than a near-miss can afford (polynomial, seconds on a long value).
    for (const pattern of ['^(?:\\w+\\s?)*$', '^([a-z0-9-]+\\.)*example\\.com$', '^.*.*.*.*x$']) {
      const json = JSON.stringify({
        rules: [{ id: 'r', when: { 'userInfo.domain': { pattern } }, action: 'approve' }],
      });
      expect(check(json, [], 'json').problems, pattern).toEqual([
        expect.objectContaining({
          pointer: '/rules/0/when/userInfo.domain/pattern',
          message: expect.stringContaining('may backtrack catastrophically'),
        }),
      ]);
    }
    // Repetition one level deep stays allowed.
    expect(
      check(YAML_RULES.replace("'^test\\.example$'", () => "'^.*\\.example\\.com$'")).valid,
    ).toBe(true);
  });

  it('names a field no rule can match and a missing reason, at the rule', () => {
    const text = `rules:\n  - id: r1\n    when: { apiInfo.name: { equals: x } }\n    action: reject\n`;
    expect(check(text).problems).toEqual([
      expect.objectContaining({ pointer: '/rules/0/reason', ruleId: 'r1', line: 2, column: 5 }),
      expect.objectContaining({
        pointer: '/rules/0/when/apiInfo.name',
        ruleId: 'r1',
        line: 3,
        message: expect.stringContaining('is not a field a rule can match'),
      }),
    ]);
  });

  it('says where the text stops being JSON or YAML', () => {
    const json = check('{\n  "rules": [\n    { "id": "a", }\n  ]\n}', [], 'json');
    expect(json.valid).toBe(false);
    expect(json.problems[0]).toMatchObject({ pointer: '', line: 3 });
    expect(json.problems[0]?.message).toMatch(/^is not valid JSON: /);
    const yaml = check('rules: []\nrules: []\n');
    expect(yaml.problems[0]).toMatchObject({ line: 2, column: 1 });
    expect(yaml.problems[0]?.message).toBe('is not valid YAML: Map keys must be unique');
  });
});

describe('a valid rules file against sample activations', () => {
  const generator = new ActivationGenerator(4242);
  const base = generator.next();
  const partner = {
    ...base,
    organizationInfo: { ...base.organizationInfo, countryCode: 'CA' },
    apiInfo: { ...base.apiInfo, id: 'v1-appointments' },
    userInfo: { fortellisId: 'buyer@dealer.example.com' },
  };
  const tester = {
    ...partner,
    connectionId: generator.next().connectionId,
    userInfo: { fortellisId: 'qa@test.example' },
  };
  const stranger = {
    ...partner,
    connectionId: generator.next().connectionId,
    organizationInfo: { ...partner.organizationInfo, countryCode: 'FR' },
  };

  it('shows which rule fires for each and what would be sent', () => {
    const result = check(YAML_RULES, [partner, tester, stranger]);
    expect(result).toMatchObject({ valid: true, problems: [], rules: 2, defaultAction: 'review' });
    expect(result.outcomes.map((o) => [o.connectionId, o.ruleId, o.action, o.sent])).toEqual([
      [partner.connectionId, 'partners', 'approve', { status: 'accepted' }],
      [
        tester.connectionId,
        'block-test-orgs',
        'reject',
        { status: 'rejected', error: 'Test organizations cannot subscribe.' },
      ],
      [stranger.connectionId, 'default', 'review', null],
    ]);
    expect(result.outcomes[2]?.note).toContain('held for an operator');
    expect(result.outcomes[0]?.note).toContain('with its credentials as auth');
    expect(result.outcomes[1]).toMatchObject({
      organization: { id: partner.organizationInfo.id, name: partner.organizationInfo.name },
      userDomain: 'test.example',
    });
  });

  it('stops at its time limit and says which samples it did not try', () => {
    // A clock that moves 40 ms each time it is read: the third reading is past a 100 ms limit.
    let ms = 0;
    const result = checkRules({
      text: YAML_RULES,
      format: 'yaml',
      fallbackAction: 'approve',
      samples: [partner, tester, stranger, partner],
      timeLimit: { ms: 100, now: () => (ms += 40) },
    });
    expect(result).toMatchObject({ valid: true, complete: false });
    expect(result.outcomes.map((o) => o.sample)).toEqual([0, 1]);
    expect(result.sampleProblems).toEqual([
      {
        sample: 2,
        message:
          'was not tried, nor the 1 after it: the dry run stopped at its time limit of 100 ms',
      },
    ]);
    expect(check(YAML_RULES, [partner, tester, stranger]).complete).toBe(true);
  });

  it('leaves out a sample that is not an activation, saying why', () => {
    const result = check(YAML_RULES, [partner, { connectionId: 'nope' }]);
    expect(result.outcomes).toHaveLength(1);
    expect(result.sampleProblems).toEqual([
      { sample: 1, message: expect.stringMatching(/^is not an activation: /) },
    ]);
  });
});

describe('the worker reading APPROVAL_RULES_FILE', () => {
  it('refuses a bad file in one line that names the rule and its line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'rules-'));
    const file = join(dir, 'rules.yaml');
    await writeFile(file, YAML_RULES.replace('action: approve', 'action: accept'));
    expect(() => loadApprovalPolicy(file, 'review')).toThrow(ConfigError);
    expect(() => loadApprovalPolicy(file, 'review')).toThrow(
      `APPROVAL_RULES_FILE (${file}) is invalid: /rules/1/action (rule "partners", line 12, column 13) must be equal to one of the allowed values`,
    );
    const catastrophic = join(dir, 'catastrophic.yaml');
    await writeFile(
      catastrophic,
      YAML_RULES.replace("'^test\\.example$'", () => "'^(a+)+$'"),
    );
    expect(() => loadApprovalPolicy(catastrophic, 'review')).toThrow(
      `APPROVAL_RULES_FILE (${catastrophic}) is invalid: /rules/0/when/userInfo.domain/pattern (rule "block-test-orgs", line 5, column 35) may backtrack catastrophically`,
    );
    const broken = join(dir, 'rules.json');
    await writeFile(broken, '{"rules": [');
    expect(() => loadApprovalPolicy(broken, 'review')).toThrow(
      /\(line 1, column 12\) is not valid JSON: /,
    );
  });
});
