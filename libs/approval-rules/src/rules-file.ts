// Reads an approval rules file (JSON or YAML): the text parsed, with a way to find where each JSON
// pointer is in it (line and column), so that every problem names its place. The worker reads
// APPROVAL_RULES_FILE through this at start; the dry run reads any file or posted text.
import { readFileSync } from 'node:fs';
import { LineCounter, parseDocument } from 'yaml';
import { ConfigError } from '@fortellis-admin/contracts';
import type { DecisionAction } from '@fortellis-admin/connection-store';
import {
  compilePolicy,
  defaultPolicy,
  describeProblem,
  type ApprovalPolicy,
  type Locate,
  type RuleProblem,
} from './approval-rules.ts';

/** A rules file's text, parsed: its value and where each pointer is; or why it cannot be parsed. */
export type ParsedRules = { raw: unknown; locate: Locate } | { problems: RuleProblem[] };

/** Whether a file of this name is YAML (`.yaml`, `.yml`); anything else is read as JSON. */
export const isYamlName = (name: string): boolean => /\.ya?ml$/i.test(name);

/**
 * Parses rules text. `format` says how: JSON is parsed strictly (a YAML file named `.json` is
 * refused), YAML as YAML 1.2 with unique keys. The positions come from the YAML parser, which
 * reads JSON too.
 */
export function parseRulesText(text: string, format: 'json' | 'yaml'): ParsedRules {
  const lines = new LineCounter();
  const document = parseDocument(text, { lineCounter: lines, uniqueKeys: true });
  const position = (offset: number) => {
    const { line, col } = lines.linePos(offset);
    return { line, column: col };
  };
  if (format === 'json') {
    try {
      JSON.parse(text);
    } catch (error) {
      const message = (error as Error).message;
      // "Unexpected end of JSON input" names no position: the end is where it stopped.
      const offset = /position (\d+)/.exec(message)?.[1] ?? text.length;
      return {
        problems: [
          {
            pointer: '',
            ...position(Number(offset)),
            message: `is not valid JSON: ${message.replace(/ in JSON at position.*$/, '')}`,
          },
        ],
      };
    }
  }
  if (document.errors.length > 0) {
    return {
      problems: document.errors.map((error) => {
        const at = error.linePos?.[0];
        return {
          pointer: '',
          ...(at === undefined ? {} : { line: at.line, column: at.col }),
          message: `is not valid ${format === 'json' ? 'JSON' : 'YAML'}: ${error.message.split(/ at line \d+|\n/)[0]}`,
        };
      }),
    };
  }
  const locate: Locate = (pointer) => {
    const path = pointer
      .split('/')
      .slice(1)
      .map((part) => part.replaceAll('~1', '/').replaceAll('~0', '~'))
      .map((part) => (/^\d+$/.test(part) ? Number(part) : part));
    // A missing property is reported at its parent: the nearest node that exists.
    for (let depth = path.length; depth >= 0; depth -= 1) {
      const node = depth === 0 ? document.contents : document.getIn(path.slice(0, depth), true);
      const range = (node as { range?: [number, number, number] } | null | undefined)?.range;
      if (range !== undefined) return position(range[0]);
    }
    return undefined;
  };
  return { raw: document.toJS(), locate };
}

/** The policy of APPROVAL_RULES_FILE, or the default action alone when none is configured. */
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
  const parsed = parseRulesText(text, isYamlName(path) ? 'yaml' : 'json');
  if ('problems' in parsed)
    throw new ConfigError(
      'APPROVAL_RULES_FILE',
      `(${path}) ${parsed.problems
        .map(describeProblem)
        .join('; ')
        .replace(/^\(root\) /, '')}`,
    );
  return compilePolicy(parsed.raw, defaultAction, path, parsed.locate);
}
