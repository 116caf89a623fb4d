// The dry run of an approval rules file: every problem in it (with the rule's id and its line),
// and, when it is valid, for each sample activation which rule fires and what the approval worker
// would send Fortellis. Pure: `npm run rules:check` and the operators' API both call it.
import { contracts, type ActivateRequest } from '@fortellis-admin/contracts';
import type { DecisionAction } from '@fortellis-admin/connection-store';
import {
  compilePolicy,
  decide,
  fieldValue,
  policyProblems,
  type RuleProblem,
} from './approval-rules.ts';
import { parseRulesText } from './rules-file.ts';

/** What one sample activation would meet. */
export interface SampleOutcome {
  /** The sample's place in the list (0-based). */
  sample: number;
  connectionId: string;
  organization: { id: string; name: string };
  apiId: string;
  userDomain: string;
  /** The rule that fires, or `default` when none matches. */
  ruleId: string;
  action: DecisionAction;
  /** The callback body sent at once; null for a connection held for review (nothing is sent). */
  sent: { status: 'accepted' } | { status: 'rejected'; error: string } | null;
  /** What else happens: the account provisioned first, or an operator's decision awaited. */
  note?: string;
}

/** A sample that is not an activation as Fortellis sends it: left out of the dry run. */
export interface SampleProblem {
  sample: number;
  message: string;
}

export interface RulesCheck {
  valid: boolean;
  problems: RuleProblem[];
  /** How many rules the file holds (when it is valid), and the default action. */
  rules: number;
  defaultAction: DecisionAction | null;
  outcomes: SampleOutcome[];
  sampleProblems: SampleProblem[];
  /** False when the time limit stopped the dry run before every sample was tried. */
  complete: boolean;
}

/** A bound on how long a dry run may spend on the samples: it stops, and says so, past it. */
export interface RulesCheckTimeLimit {
  ms: number;
  /** A monotonic clock in milliseconds (e.g. performance.now). */
  now: () => number;
}

export interface RulesCheckInput {
  text: string;
  format: 'json' | 'yaml';
  /** The action when the file names none (APPROVAL_DEFAULT_ACTION). */
  fallbackAction: DecisionAction;
  samples: readonly unknown[];
  /** Without one, every sample is tried whatever it takes. */
  timeLimit?: RulesCheckTimeLimit;
}

export function checkRules(input: RulesCheckInput): RulesCheck {
  const parsed = parseRulesText(input.text, input.format);
  const problems =
    'problems' in parsed ? parsed.problems : policyProblems(parsed.raw, parsed.locate);
  if ('problems' in parsed || problems.length > 0)
    return {
      valid: false,
      problems,
      rules: 0,
      defaultAction: null,
      outcomes: [],
      sampleProblems: [],
      complete: true,
    };
  const policy = compilePolicy(parsed.raw, input.fallbackAction, 'dry run');
  const outcomes: SampleOutcome[] = [];
  const sampleProblems: SampleProblem[] = [];
  const limit = input.timeLimit;
  const stopAt = limit === undefined ? Infinity : limit.now() + limit.ms;
  for (const [index, sample] of input.samples.entries()) {
    if (limit !== undefined && limit.now() > stopAt) {
      const left = input.samples.length - index;
      sampleProblems.push({
        sample: index,
        message: `was not tried, nor the ${left - 1} after it: the dry run stopped at its time limit of ${limit.ms} ms`,
      });
      return { ...validResult(policy, outcomes, sampleProblems), complete: false };
    }
    const issues = contracts.activateRequest.issues(sample);
    if (issues.length > 0) {
      const first = issues[0];
      sampleProblems.push({
        sample: index,
        message: `is not an activation: ${first?.pointer === '' ? '(root)' : first?.pointer} ${first?.message}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''}`,
      });
      continue;
    }
    outcomes.push(outcomeOf(index, sample as ActivateRequest, policy));
  }
  return validResult(policy, outcomes, sampleProblems);
}

function validResult(
  policy: ReturnType<typeof compilePolicy>,
  outcomes: SampleOutcome[],
  sampleProblems: SampleProblem[],
): RulesCheck {
  return {
    valid: true,
    problems: [],
    rules: policy.rules.length,
    defaultAction: policy.defaultAction,
    outcomes,
    sampleProblems,
    complete: true,
  };
}

function outcomeOf(
  index: number,
  activation: ActivateRequest,
  policy: ReturnType<typeof compilePolicy>,
): SampleOutcome {
  const decision = decide(policy, activation);
  const base = {
    sample: index,
    connectionId: activation.connectionId,
    organization: { id: activation.organizationInfo.id, name: activation.organizationInfo.name },
    apiId: activation.apiInfo.id,
    userDomain: fieldValue(activation, 'userInfo.domain'),
    ruleId: decision.ruleId,
    action: decision.action,
  };
  switch (decision.action) {
    case 'approve':
      return {
        ...base,
        sent: { status: 'accepted' },
        note: 'with BACKEND_PROVISIONER=http, once the backend has provisioned the account, with its credentials as auth',
      };
    case 'reject':
      return { ...base, sent: { status: 'rejected', error: decision.reason ?? '' } };
    case 'review':
      return { ...base, sent: null, note: 'held for an operator: nothing is sent until decided' };
  }
}
