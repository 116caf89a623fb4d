// `npm run rules:check -- FILE [SAMPLES] [--json]`: the dry run of an approval rules file. Lists
// every problem (with the rule's id, its line and column) and exits 1; when the file is valid, shows
// for each sample activation which rule fires and what the approval worker would send Fortellis.
// SAMPLES is a JSON file (one activation, an array of them, or one per line), or a number N: the
// last N activations stored in MONGODB_URL (MONGODB_DATABASE), or in the `npm run dev` stack.
import { readFile } from 'node:fs/promises';
import { MongoClient } from 'mongodb';
import {
  checkRules,
  describeProblem,
  isYamlName,
  type RulesCheck,
} from '@fortellis-admin/approval-rules';
import { ConnectionRepository, type DecisionAction } from '@fortellis-admin/connection-store';
import { STACK_FILE } from './dev-stack-file.ts';

const USAGE = `usage: npm run rules:check -- FILE [SAMPLES] [--json]
  FILE     the rules file (JSON, or YAML when it ends in .yaml / .yml)
  SAMPLES  a JSON file of sample activations (one, an array, or one per line),
           or N: the last N stored activations (MONGODB_URL, or the running npm run dev stack)
  --json   print the result as JSON
APPROVAL_DEFAULT_ACTION (default review) is the action of a file that names none.`;

function fail(message: string, code = 2): never {
  process.stderr.write(`rules:check: ${message}\n`);
  process.exit(code);
}

const args = process.argv.slice(2);
const json = args.includes('--json');
const [file, samplesArg, ...extra] = args.filter((arg) => arg !== '--json');
if (file === undefined || file === '--help' || extra.length > 0) fail(USAGE);
const fallback = (process.env.APPROVAL_DEFAULT_ACTION ?? 'review') as DecisionAction;
if (!['approve', 'reject', 'review'].includes(fallback))
  fail(`APPROVAL_DEFAULT_ACTION must be approve, reject or review, not ${fallback}`);

const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) =>
  fail(`${file} cannot be read: ${error.code ?? error.message}`),
);

/** Parses a samples file: one activation, an array of them, or one JSON value per line. */
function parseSamples(name: string, content: string): unknown[] {
  try {
    const value: unknown = JSON.parse(content);
    return Array.isArray(value) ? value : [value];
  } catch {
    return content
      .split('\n')
      .map((line, index) => ({ line: line.trim(), index }))
      .filter(({ line }) => line !== '')
      .map(({ line, index }) => {
        try {
          return JSON.parse(line) as unknown;
        } catch (error) {
          return fail(`${name}:${index + 1} is not JSON: ${(error as Error).message}`);
        }
      });
  }
}

/** The last `count` activations stored in MONGODB_URL, or in the running dev stack's database. */
async function storedSamples(count: number): Promise<unknown[]> {
  const stackUrl = await readFile(STACK_FILE, 'utf8')
    .then((content) => (JSON.parse(content) as { mongoUrl?: string }).mongoUrl)
    .catch(() => undefined);
  const url = process.env.MONGODB_URL ?? stackUrl;
  if (url === undefined)
    fail('SAMPLES is a number: set MONGODB_URL (or start the stack with npm run dev)');
  const client = new MongoClient(url, { serverSelectionTimeoutMS: 5000 });
  try {
    await client.connect();
    const db = client.db(process.env.MONGODB_DATABASE ?? 'fortellis_admin');
    // Reads only: no write guard is needed.
    const repo = new ConnectionRepository(db, { kind: 'atomic' });
    const connections = await repo.list({}, count);
    return connections
      .slice(0, count)
      .flatMap((connection) =>
        connection.activation === undefined ? [] : [connection.activation],
      );
  } catch (error) {
    return fail(`cannot read the stored activations: ${(error as Error).message}`);
  } finally {
    await client.close();
  }
}

let samples: unknown[] = [];
if (samplesArg !== undefined) {
  if (/^\d+$/.test(samplesArg)) {
    const count = Number(samplesArg);
    if (count < 1 || count > 10_000) fail('N must be between 1 and 10000');
    samples = await storedSamples(count);
  } else {
    const content = await readFile(samplesArg, 'utf8').catch((error: NodeJS.ErrnoException) =>
      fail(`${samplesArg} cannot be read: ${error.code ?? error.message}`),
    );
    samples = parseSamples(samplesArg, content);
  }
}

const result = checkRules({
  text,
  format: isYamlName(file) ? 'yaml' : 'json',
  fallbackAction: fallback,
  samples,
});

/** The report as people read it: problems with file:line:column, or one line per sample. */
function report(check: RulesCheck): string {
  if (!check.valid) {
    // The place goes first, as compilers print it; the rest is the worker's own message.
    const lines = check.problems.map(({ line, column, ...problem }) => {
      const place = line === undefined ? '' : `:${line}:${column ?? 1}`;
      return `  ${file}${place}  ${describeProblem(problem)}`;
    });
    const count = check.problems.length;
    return [`${file}: ${count} problem${count === 1 ? '' : 's'}`, ...lines].join('\n');
  }
  const lines = [
    `${file}: valid, ${check.rules} rule${check.rules === 1 ? '' : 's'}, default action ${check.defaultAction}`,
  ];
  if (samplesArg === undefined) return lines.join('\n');
  lines.push(`${check.outcomes.length} sample activation(s):`, '');
  for (const outcome of check.outcomes) {
    lines.push(
      `  #${outcome.sample} ${outcome.connectionId}  ${outcome.organization.name} (${outcome.apiId}, ${outcome.userDomain})`,
      `     rule ${outcome.ruleId} → ${outcome.action}; sends ${outcome.sent === null ? 'nothing' : JSON.stringify(outcome.sent)}${outcome.note === undefined ? '' : ` (${outcome.note})`}`,
    );
  }
  for (const problem of check.sampleProblems)
    lines.push(`  #${problem.sample} left out: ${problem.message}`);
  return lines.join('\n');
}

process.stdout.write(`${json ? JSON.stringify(result, null, 2) : report(result)}\n`);
process.exit(result.valid ? 0 : 1);
