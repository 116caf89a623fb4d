// The operators' dry run of an approval rules file: its problems, and what it would decide for the
// sample activations posted with it, or for the last activations stored here. Nothing is changed.
import {
  checkRules,
  type RulesCheck,
  type RulesCheckTimeLimit,
} from '@fortellis-admin/approval-rules';
import type { DecisionAction } from '@fortellis-admin/connection-store';
import type { OperationsRepository } from './ports.ts';

export interface RulesDryRunPorts {
  repo: Pick<OperationsRepository, 'list'>;
  /** APPROVAL_DEFAULT_ACTION: the action of a file that names none. */
  defaultAction: DecisionAction;
  /** How long trying the samples may take before the dry run stops and says so. */
  timeLimit: RulesCheckTimeLimit;
}

/** The dry run's time limit on the operations service: it shares the event loop with the API. */
export const RULES_DRY_RUN_TIME_LIMIT_MS = 2000;

export interface RulesDryRunRequest {
  /** The rules file's text. */
  rules: string;
  /** How to read it; by default JSON when it starts with `{`, else YAML. */
  format?: 'json' | 'yaml';
  /** Activations to try it on; without them, the last `lastStored` stored activations. */
  samples?: unknown[];
  lastStored?: number;
}

/** How many stored activations a dry run reads when the request names no samples. */
export const DEFAULT_STORED_SAMPLES = 20;

export async function dryRunRules(
  ports: RulesDryRunPorts,
  request: RulesDryRunRequest,
): Promise<RulesCheck & { samplesFrom: 'request' | 'stored' }> {
  const format = request.format ?? (request.rules.trimStart().startsWith('{') ? 'json' : 'yaml');
  const fromRequest = request.samples !== undefined;
  const samples = fromRequest
    ? (request.samples ?? [])
    : (await ports.repo.list({}, request.lastStored ?? DEFAULT_STORED_SAMPLES))
        .slice(0, request.lastStored ?? DEFAULT_STORED_SAMPLES)
        .flatMap((connection) =>
          connection.activation === undefined ? [] : [connection.activation],
        );
  return {
    ...checkRules({
      text: request.rules,
      format,
      fallbackAction: ports.defaultAction,
      samples,
      timeLimit: ports.timeLimit,
    }),
    samplesFrom: fromRequest ? 'request' : 'stored',
  };
}
