// Reads the approval rules file (JSON or YAML) named by APPROVAL_RULES_FILE.
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError } from '@fortellis-admin/contracts';
import { type DecisionAction } from '@fortellis-admin/connection-store';
import { compilePolicy, defaultPolicy, type ApprovalPolicy } from '../domain/approval-rules.ts';

export function loadApprovalPolicy(
  path: string | undefined,
  defaultAction: DecisionAction,
): ApprovalPolicy {
  if (path === undefined) return defaultPolicy(defaultAction);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(
      'APPROVAL_RULES_FILE',
      `(${path}) cannot be read: ${(error as NodeJS.ErrnoException).code ?? String(error)}`,
    );
  }
  let raw: unknown;
  try {
    raw = /\.ya?ml$/i.test(path) ? parseYaml(text) : JSON.parse(text);
  } catch (error) {
    throw new ConfigError(
      'APPROVAL_RULES_FILE',
      `(${path}) is not valid ${/\.ya?ml$/i.test(path) ? 'YAML' : 'JSON'}: ${(error as Error).message.split('\n')[0]}`,
    );
  }
  return compilePolicy(raw, defaultAction, path);
}
