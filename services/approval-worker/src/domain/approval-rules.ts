// The provider's approval rules: ordered rules that match activation fields with equals / one-of /
// pattern, each deciding approve, reject (with a reason) or review; a default action. Pure.
import {
  ConfigError,
  createAjv,
  formatIssues,
  toIssues,
  type ActivateRequest,
} from '@fortellis-admin/contracts';
import { type DecisionAction } from '@fortellis-admin/connection-store';

/** The activation fields a rule can match on. `userInfo.domain` is the domain of `userInfo.fortellisId`. */
export const RULE_FIELDS = [
  'apiInfo.id',
  'organizationInfo.id',
  'organizationInfo.countryCode',
  'appInfo.id',
  'appInfo.appOrgId',
  'userInfo.domain',
] as const;
export type RuleField = (typeof RULE_FIELDS)[number];

const ACTIONS = ['approve', 'reject', 'review'] as const;

const matcherSchema = {
  type: 'object',
  minProperties: 1,
  maxProperties: 1,
  properties: {
    equals: { type: 'string' },
    oneOf: { type: 'array', minItems: 1, items: { type: 'string' } },
    pattern: { type: 'string', minLength: 1 },
  },
  additionalProperties: false,
} as const;

/** JSON Schema of a rules file (JSON or YAML). */
export const approvalPolicySchema = {
  type: 'object',
  required: ['rules'],
  properties: {
    defaultAction: { type: 'string', enum: ACTIONS },
    defaultReason: { type: 'string', minLength: 1 },
    rules: {
      type: 'array',
      items: {
        type: 'object',
        required: ['id', 'when', 'action'],
        properties: {
          id: { type: 'string', pattern: '^[A-Za-z0-9_.-]+$' },
          description: { type: 'string' },
          when: {
            type: 'object',
            minProperties: 1,
            propertyNames: { enum: RULE_FIELDS },
            additionalProperties: matcherSchema,
          },
          action: { type: 'string', enum: ACTIONS },
          reason: { type: 'string', minLength: 1 },
        },
        additionalProperties: false,
        if: { type: 'object', properties: { action: { const: 'reject' } }, required: ['action'] },
        then: { required: ['reason'] },
      },
    },
  },
  additionalProperties: false,
} as const;

type Matcher = (value: string) => boolean;

export interface CompiledRule {
  id: string;
  action: DecisionAction;
  reason?: string;
  conditions: ReadonlyArray<{ field: RuleField; matches: Matcher }>;
}

export interface ApprovalPolicy {
  rules: readonly CompiledRule[];
  defaultAction: DecisionAction;
  defaultReason: string;
}

export interface RuleDecision {
  action: DecisionAction;
  ruleId: string;
  reason?: string;
}

/** The default reason sent with a rejection when neither rule nor file gives one. */
export const DEFAULT_REJECTION_REASON = 'The provider did not approve this subscription.';

/** A policy with no rules: every activation gets the default action. */
export function defaultPolicy(defaultAction: DecisionAction): ApprovalPolicy {
  return { rules: [], defaultAction, defaultReason: DEFAULT_REJECTION_REASON };
}

const validatePolicy = createAjv().compile(approvalPolicySchema);

/**
 * Validates and compiles a parsed rules file. Throws ConfigError naming APPROVAL_RULES_FILE and the
 * exact problem (JSON pointer and reason, or the rule whose pattern does not compile).
 */
export function compilePolicy(
  raw: unknown,
  fallbackAction: DecisionAction,
  source: string,
): ApprovalPolicy {
  if (!validatePolicy(raw)) {
    throw new ConfigError(
      'APPROVAL_RULES_FILE',
      `(${source}) is invalid: ${formatIssues(toIssues(validatePolicy.errors), 3)}`,
    );
  }
  const file = raw as {
    defaultAction?: DecisionAction;
    defaultReason?: string;
    rules: Array<{
      id: string;
      when: Record<string, { equals?: string; oneOf?: string[]; pattern?: string }>;
      action: DecisionAction;
      reason?: string;
    }>;
  };
  const ids = new Set<string>();
  const rules = file.rules.map((rule, index): CompiledRule => {
    if (ids.has(rule.id))
      throw new ConfigError(
        'APPROVAL_RULES_FILE',
        `(${source}) is invalid: /rules/${index}/id "${rule.id}" is used twice`,
      );
    ids.add(rule.id);
    const conditions = Object.entries(rule.when).map(([field, matcher]) => ({
      field: field as RuleField,
      matches: compileMatcher(matcher, `rule "${rule.id}" (/rules/${index}/when/${field})`, source),
    }));
    return {
      id: rule.id,
      action: rule.action,
      ...(rule.reason === undefined ? {} : { reason: rule.reason }),
      conditions,
    };
  });
  return {
    rules,
    defaultAction: file.defaultAction ?? fallbackAction,
    defaultReason: file.defaultReason ?? DEFAULT_REJECTION_REASON,
  };
}

function compileMatcher(
  matcher: { equals?: string; oneOf?: string[]; pattern?: string },
  where: string,
  source: string,
): Matcher {
  // Ids, domains and country codes compare case-insensitively.
  if (matcher.equals !== undefined) {
    const expected = matcher.equals.toLowerCase();
    return (value) => value.toLowerCase() === expected;
  }
  if (matcher.oneOf !== undefined) {
    const expected = new Set(matcher.oneOf.map((v) => v.toLowerCase()));
    return (value) => expected.has(value.toLowerCase());
  }
  const pattern = matcher.pattern ?? '';
  // Unanchored, `example\.com` would also match `badexample.com.evil`: every pattern must say
  // where it starts and ends.
  if (!pattern.startsWith('^') || !pattern.endsWith('$') || pattern.endsWith('\\$'))
    throw new ConfigError(
      'APPROVAL_RULES_FILE',
      `(${source}) is invalid: ${where} pattern must be anchored: start with ^ and end with $, e.g. ^example\\.com$`,
    );
  try {
    const regex = new RegExp(pattern, 'iu');
    return (value) => regex.test(value);
  } catch (error) {
    throw new ConfigError(
      'APPROVAL_RULES_FILE',
      `(${source}) is invalid: ${where} pattern is not a valid regular expression (${(error as Error).message})`,
    );
  }
}

/** The value of a rule field in an activation; '' when absent. */
export function fieldValue(activation: ActivateRequest, field: RuleField): string {
  switch (field) {
    case 'apiInfo.id':
      return activation.apiInfo.id;
    case 'organizationInfo.id':
      return activation.organizationInfo.id;
    case 'organizationInfo.countryCode':
      return activation.organizationInfo.countryCode ?? '';
    case 'appInfo.id':
      return activation.appInfo.id;
    case 'appInfo.appOrgId':
      return activation.appInfo.appOrgId;
    case 'userInfo.domain': {
      const email = activation.userInfo.fortellisId;
      return email.slice(email.lastIndexOf('@') + 1);
    }
  }
}

/** The first rule whose every condition matches decides; otherwise the default action. */
export function decide(policy: ApprovalPolicy, activation: ActivateRequest): RuleDecision {
  for (const rule of policy.rules) {
    if (
      rule.conditions.every((condition) =>
        condition.matches(fieldValue(activation, condition.field)),
      )
    ) {
      const reason = rule.action === 'reject' ? (rule.reason ?? policy.defaultReason) : rule.reason;
      return { action: rule.action, ruleId: rule.id, ...(reason === undefined ? {} : { reason }) };
    }
  }
  return {
    action: policy.defaultAction,
    ruleId: 'default',
    ...(policy.defaultAction === 'reject' ? { reason: policy.defaultReason } : {}),
  };
}
