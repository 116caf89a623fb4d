// The approval rules, case by case: fields, matchers, order, default, and file validation.
import { describe, expect, it } from 'vitest';
import { ConfigError, type ActivateRequest } from '@fortellis-admin/contracts';
import {
  compilePolicy,
  decide,
  defaultPolicy,
  fieldValue,
  DEFAULT_REJECTION_REASON,
} from './approval-rules.ts';

const activation: ActivateRequest = {
  organizationInfo: {
    id: '2529a384-aee3-4b9a-af35-ed08e77dee15',
    name: 'Super Car Dealership',
    address: '1234 Some St.',
    countryCode: 'US',
    phoneNumber: '(614) 555-5555',
  },
  appInfo: {
    id: 'f83eaff0-3f88-4ebd-9fc8-25f051632968',
    name: 'App',
    developer: 'Dev',
    contactEmail: 'c@example.com',
    appOrgId: '2059d5f5-bccb-40c8-937e-f217311feabd',
  },
  userInfo: { fortellisId: 'Buyer@Dealer.Example.com' },
  apiInfo: { id: 'v1-appointments', name: 'Appointments', implementationName: 'Fortellis Spec 8' },
  subscriptionId: '2529a384-acc3-4b6a-a835-ed09e77dee15',
  connectionId: '2529a384-add3-4b6a-a935-ed09e45def12',
};

const policy = (rules: unknown[], extra: Record<string, unknown> = {}) =>
  compilePolicy({ rules, ...extra }, 'review', 'rules.json');

describe('decide', () => {
  it('uses the default action, and says so, when no rule matches', () => {
    expect(decide(defaultPolicy('review'), activation)).toEqual({
      action: 'review',
      ruleId: 'default',
    });
    expect(decide(defaultPolicy('approve'), activation)).toEqual({
      action: 'approve',
      ruleId: 'default',
    });
    expect(decide(defaultPolicy('reject'), activation)).toEqual({
      action: 'reject',
      ruleId: 'default',
      reason: DEFAULT_REJECTION_REASON,
    });
  });

  it.each([
    ['apiInfo.id', { equals: 'v1-appointments' }],
    ['organizationInfo.id', { equals: '2529A384-AEE3-4B9A-AF35-ED08E77DEE15' }],
    ['organizationInfo.countryCode', { oneOf: ['ca', 'us'] }],
    ['appInfo.id', { oneOf: ['f83eaff0-3f88-4ebd-9fc8-25f051632968'] }],
    ['appInfo.appOrgId', { pattern: '^2059d5f5-.*$' }],
    ['userInfo.domain', { equals: 'dealer.example.com' }],
  ])('matches %s (%j), case-insensitively', (field, matcher) => {
    expect(
      decide(policy([{ id: 'r', when: { [field]: matcher }, action: 'approve' }]), activation),
    ).toEqual({ action: 'approve', ruleId: 'r' });
  });

  it.each([
    ['apiInfo.id', { equals: 'v2-repair-orders' }],
    ['organizationInfo.countryCode', { oneOf: ['CA', 'MX'] }],
    ['userInfo.domain', { pattern: '^example\\.com$' }],
    ['userInfo.domain', { pattern: '^example\\.com$|^dealer\\.example$' }],
  ])('does not match %s (%j)', (field, matcher) => {
    expect(
      decide(policy([{ id: 'r', when: { [field]: matcher }, action: 'approve' }]), activation)
        .ruleId,
    ).toBe('default');
  });

  it('needs every condition of a rule to match', () => {
    const rules = [
      {
        id: 'both',
        when: {
          'apiInfo.id': { equals: 'v1-appointments' },
          'organizationInfo.countryCode': { equals: 'CA' },
        },
        action: 'approve',
      },
    ];
    expect(decide(policy(rules), activation).ruleId).toBe('default');
  });

  it('lets the first matching rule decide, in file order', () => {
    const rules = [
      {
        id: 'block-domain',
        when: { 'userInfo.domain': { equals: 'dealer.example.com' } },
        action: 'reject',
        reason: 'domain not allowed',
      },
      {
        id: 'approve-api',
        when: { 'apiInfo.id': { equals: 'v1-appointments' } },
        action: 'approve',
      },
    ];
    expect(decide(policy(rules), activation)).toEqual({
      action: 'reject',
      ruleId: 'block-domain',
      reason: 'domain not allowed',
    });
  });

  it('treats an absent countryCode as empty text', () => {
    const withoutCountry = structuredClone(activation);
    delete withoutCountry.organizationInfo.countryCode;
    expect(fieldValue(withoutCountry, 'organizationInfo.countryCode')).toBe('');
    expect(
      decide(
        policy([
          {
            id: 'no-country',
            when: { 'organizationInfo.countryCode': { equals: '' } },
            action: 'review',
          },
        ]),
        withoutCountry,
      ).ruleId,
    ).toBe('no-country');
  });

  it('takes the file default action and reason over the environment default', () => {
    const p = policy([], { defaultAction: 'reject', defaultReason: 'invite only' });
    expect(decide(p, activation)).toEqual({
      action: 'reject',
      ruleId: 'default',
      reason: 'invite only',
    });
  });
});

describe('compilePolicy refuses an invalid file with the exact problem', () => {
  const problem = (raw: unknown): string => {
    try {
      compilePolicy(raw, 'review', 'rules.yaml');
    } catch (error) {
      expect(error).toBeInstanceOf(ConfigError);
      return (error as ConfigError).message;
    }
    throw new Error('the policy compiled');
  };

  it.each([
    [{}, '/rules is required'],
    [
      { rules: [{ id: 'x', when: { 'apiInfo.id': { equals: 'a' } }, action: 'maybe' }] },
      '/rules/0/action (rule "x") must be equal to one of the allowed values',
    ],
    [
      { rules: [{ id: 'x', when: { 'apiInfo.name': { equals: 'a' } }, action: 'approve' }] },
      '/rules/0/when/apiInfo.name (rule "x") is not a field a rule can match; one of apiInfo.id, organizationInfo.id',
    ],
    [
      {
        rules: [
          { id: 'x', when: { 'apiInfo.id': { equals: 'a', pattern: 'b' } }, action: 'approve' },
        ],
      },
      '/rules/0/when/apiInfo.id (rule "x") must NOT have more than 1 properties',
    ],
    [
      { rules: [{ id: 'x', when: { 'apiInfo.id': { equals: 'a' } }, action: 'reject' }] },
      '/rules/0/reason (rule "x") is required',
    ],
    [
      { rules: [{ id: 'x', when: {}, action: 'approve' }] },
      '/rules/0/when (rule "x") must NOT have fewer than 1 properties',
    ],
  ])('%j → %s', (raw, expected) => {
    const message = problem(raw);
    expect(message).toMatch(
      /^invalid configuration: APPROVAL_RULES_FILE \(rules\.yaml\) is invalid: /,
    );
    expect(message).toContain(expected);
  });

  it('names the rule of a pattern that is not anchored or not a regular expression', () => {
    expect(
      problem({
        rules: [{ id: 'x', when: { 'apiInfo.id': { pattern: '([' } }, action: 'approve' }],
      }),
    ).toContain(
      '/rules/0/when/apiInfo.id/pattern (rule "x") must be anchored: start with ^ and end with $',
    );
    expect(
      problem({
        rules: [{ id: 'y', when: { 'apiInfo.id': { pattern: '^([$' } }, action: 'approve' }],
      }),
    ).toContain('/rules/0/when/apiInfo.id/pattern (rule "y") is not a valid regular expression');
  });

  it.each(['example\\.com', '^example\\.com', 'example\\.com$', '^example\\.com\\$'])(
    'refuses the unanchored pattern %s, naming the rule',
    (pattern) => {
      expect(
        problem({
          rules: [{ id: 'domains', when: { 'userInfo.domain': { pattern } }, action: 'approve' }],
        }),
      ).toContain('/rules/0/when/userInfo.domain/pattern (rule "domains") must be anchored');
    },
  );

  it('lists every problem of the file, at most three in the one-line error', () => {
    const bad = { id: 'b', when: { 'apiInfo.id': { pattern: 'x' } }, action: 'approve' };
    const message = problem({
      rules: [bad, { ...bad, id: 'c' }, { ...bad, id: 'd' }, { ...bad, id: 'e' }],
    });
    expect(message).toContain('(rule "b")');
    expect(message).toContain('(rule "d")');
    expect(message).not.toContain('(rule "e")');
    expect(message).toMatch(/; and 1 more$/);
  });

  it('refuses a rule id used twice', () => {
    const rule = { id: 'dup', when: { 'apiInfo.id': { equals: 'a' } }, action: 'approve' };
    expect(problem({ rules: [rule, rule] })).toContain(
      '/rules/1/id (rule "dup") is the id of an earlier rule too',
    );
  });
});
