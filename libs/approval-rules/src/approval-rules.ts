// The provider's approval rules: ordered rules that match activation fields with equals / one-of /
// pattern, each deciding approve, reject (with a reason) or review; a default action. Pure.
import safeRegex from 'safe-regex2';
import { ConfigError, createAjv, toIssues, type ActivateRequest } from '@fortellis-admin/contracts';
import { type DecisionAction } from '@fortellis-admin/connection-store';
import {
  RULE_FIELDS,
  approvalPolicySchema,
  type PolicyFile,
  type RuleField,
} from './rules-schema.ts';

export {
  APPROVAL_DEFAULT_ACTION_ENV_PROPERTIES,
  RULE_FIELDS,
  approvalPolicySchema,
  type RuleField,
} from './rules-schema.ts';

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

/** One thing wrong with a rules file: where (JSON pointer, and the rule it is in), and what. */
export interface RuleProblem {
  /** JSON pointer into the file, e.g. `/rules/2/when/userInfo.domain/pattern`. */
  pointer: string;
  /** The id of the rule the pointer is in, when it has one. */
  ruleId?: string;
  /** Its place in the file, when the file's text is known (1-based). */
  line?: number;
  column?: number;
  message: string;
}

/** Where a pointer is in the file's text, when that is known. */
export type Locate = (pointer: string) => { line: number; column: number } | undefined;

/** `/rules/0/action (rule "vip", line 5, column 13) must be …`: the problem in one line. */
export function describeProblem(problem: RuleProblem): string {
  const where = [
    problem.ruleId === undefined ? undefined : `rule "${problem.ruleId}"`,
    problem.line === undefined ? undefined : `line ${problem.line}, column ${problem.column ?? 1}`,
  ].filter((part) => part !== undefined);
  return `${problem.pointer === '' ? '(root)' : problem.pointer}${where.length === 0 ? '' : ` (${where.join(', ')})`} ${problem.message}`;
}

/**
 * Everything wrong with a parsed rules file, in file order: the schema's problems, then each rule's
 * (an id used twice, a pattern that is not anchored, does not compile or may backtrack
 * catastrophically). Empty when it is valid.
 */
export function policyProblems(raw: unknown, locate?: Locate): RuleProblem[] {
  const rules = (raw as { rules?: unknown } | null)?.rules;
  const ruleIdAt = (pointer: string): string | undefined => {
    const index = /^\/rules\/(\d+)(?:\/|$)/.exec(pointer)?.[1];
    if (index === undefined || !Array.isArray(rules)) return undefined;
    const id = (rules[Number(index)] as { id?: unknown } | undefined)?.id;
    return typeof id === 'string' ? id : undefined;
  };
  const problem = (pointer: string, message: string): RuleProblem => {
    const ruleId = ruleIdAt(pointer);
    const at = locate?.(pointer);
    return { pointer, ...(ruleId === undefined ? {} : { ruleId }), ...at, message };
  };
  if (!validatePolicy(raw)) {
    const errors = validatePolicy.errors ?? [];
    return errors.flatMap((error) => {
      // An if/then failure repeats the `then` problem it wraps ("must match then schema"), and a
      // propertyNames failure the field's own problem.
      if (error.keyword === 'if' || error.keyword === 'propertyNames') return [];
      if (error.propertyName !== undefined)
        return [
          problem(
            `${error.instancePath}/${error.propertyName}`,
            `is not a field a rule can match; one of ${RULE_FIELDS.join(', ')}`,
          ),
        ];
      return toIssues([error]).map((issue) => problem(issue.pointer, issue.message));
    });
  }
  const found: RuleProblem[] = [];
  const ids = new Set<string>();
  (raw as PolicyFile).rules.forEach((rule, index) => {
    if (ids.has(rule.id))
      found.push(problem(`/rules/${index}/id`, 'is the id of an earlier rule too'));
    ids.add(rule.id);
    for (const [field, matcher] of Object.entries(rule.when)) {
      const why = matcherProblem(matcher);
      if (why !== undefined) found.push(problem(`/rules/${index}/when/${field}/pattern`, why));
    }
  });
  return found;
}

/**
 * Validates and compiles a parsed rules file. Throws ConfigError naming APPROVAL_RULES_FILE and the
 * exact problems (JSON pointer, the rule, its line when `locate` knows the text, and the reason).
 */
export function compilePolicy(
  raw: unknown,
  fallbackAction: DecisionAction,
  source: string,
  locate?: Locate,
): ApprovalPolicy {
  const problems = policyProblems(raw, locate);
  if (problems.length > 0) {
    const shown = problems.slice(0, 3).map(describeProblem).join('; ');
    const more = problems.length > 3 ? `; and ${problems.length - 3} more` : '';
    throw new ConfigError('APPROVAL_RULES_FILE', `(${source}) is invalid: ${shown}${more}`);
  }
  const file = raw as PolicyFile;
  return {
    rules: file.rules.map((rule): CompiledRule => ({
      id: rule.id,
      action: rule.action,
      ...(rule.reason === undefined ? {} : { reason: rule.reason }),
      conditions: Object.entries(rule.when).map(([field, matcher]) => ({
        field: field as RuleField,
        matches: compileMatcher(matcher),
      })),
    })),
    defaultAction: file.defaultAction ?? fallbackAction,
    defaultReason: file.defaultReason ?? DEFAULT_REJECTION_REASON,
  };
}

/**
 * The most quantifiers (`*`, `+`, `?`, `{n,m}`) a rule's pattern may hold. Matched against fields
 * of at most 320 characters, three keep a worst-case near-miss in the tens of milliseconds.
 */
export const MAX_PATTERN_QUANTIFIERS = 3;

/** Why a matcher's pattern cannot be used, or undefined. */
function matcherProblem(matcher: { pattern?: string }): string | undefined {
  if (matcher.pattern === undefined) return undefined;
  const pattern = matcher.pattern;
  // Unanchored, `example\.com` would also match `badexample.com.evil`: every pattern must say
  // where it starts and ends.
  if (!pattern.startsWith('^') || !pattern.endsWith('$') || pattern.endsWith('\\$'))
    return 'must be anchored: start with ^ and end with $, e.g. ^example\\.com$';
  try {
    new RegExp(pattern, 'iu');
  } catch (error) {
    return `is not a valid regular expression (${(error as Error).message})`;
  }
  // A nested quantifier such as `^(a+)+$` takes exponential time on a near-miss, and each further
  // quantifier multiplies the work by the value's length (`^.*.*.*.*x$` takes seconds on 320
  // characters): one activation would stall the worker. safe-regex2 (Fastify's router uses it)
  // refuses a star height above 1 and more than MAX_PATTERN_QUANTIFIERS quantifiers.
  if (!safeRegex(pattern, { limit: MAX_PATTERN_QUANTIFIERS }))
    return `may backtrack catastrophically: no quantifier inside a repeated group (e.g. (a+)+ or (x+\\.)?), and at most ${MAX_PATTERN_QUANTIFIERS} quantifiers; e.g. ^example\\.com$|^.*\\.example\\.com$`;
  return undefined;
}

/** A checked matcher as a predicate: ids, domains and country codes compare case-insensitively. */
function compileMatcher(matcher: { equals?: string; oneOf?: string[]; pattern?: string }): Matcher {
  if (matcher.equals !== undefined) {
    const expected = matcher.equals.toLowerCase();
    return (value) => value.toLowerCase() === expected;
  }
  if (matcher.oneOf !== undefined) {
    const expected = new Set(matcher.oneOf.map((v) => v.toLowerCase()));
    return (value) => expected.has(value.toLowerCase());
  }
  const regex = new RegExp(matcher.pattern ?? '', 'iu');
  return (value) => regex.test(value);
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
