// The schema of an approval rules file (JSON or YAML): the activation fields a rule can match, the
// matchers, the actions, and APPROVAL_DEFAULT_ACTION as the services' config reads it.
import type { DecisionAction } from '@fortellis-admin/connection-store';

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

/**
 * APPROVAL_DEFAULT_ACTION, as the approval worker and the operators' dry run of a rules file both
 * read it (one description, one default).
 */
export const APPROVAL_DEFAULT_ACTION_ENV_PROPERTIES = {
  APPROVAL_DEFAULT_ACTION: {
    description:
      'What happens to a connection no rule matches: approve, reject, or review (held for an operator).',
    type: 'string',
    enum: ACTIONS,
    default: 'review',
  },
} as const;

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

/** A rules file that the schema accepts. */
export interface PolicyFile {
  defaultAction?: DecisionAction;
  defaultReason?: string;
  rules: Array<{
    id: string;
    when: Record<string, { equals?: string; oneOf?: string[]; pattern?: string }>;
    action: DecisionAction;
    reason?: string;
  }>;
}
