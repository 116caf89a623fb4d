// Generates the configuration reference from the services' config schemas: the table in
// docs/configuration.md (between the config-reference markers) and .env.example; and the metrics
// table in docs/runbooks.md (between the metrics-reference markers) from the metric catalog.
// `npm run docs:config` writes them; a test fails when any is out of date.
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { ingressEnvSchema } from '../services/ingress/src/config.ts';
import { operationsEnvSchema } from '../services/operations/src/config.ts';
import { approvalWorkerEnvSchema } from '../services/approval-worker/src/config.ts';
import { deprovisionWorkerEnvSchema } from '../services/deprovision-worker/src/config.ts';
import { METRICS, metricName, type MetricKey } from '../libs/service-kit/src/metric-catalog.ts';

interface Property {
  description?: string;
  default?: unknown;
  enum?: readonly unknown[];
  writeOnly?: boolean;
}

interface ConditionalRequirement {
  if?: { required?: readonly string[]; properties?: Record<string, { const?: string }> };
  then?: { required?: readonly string[] };
}

interface ServiceSchema extends ConditionalRequirement {
  required: readonly string[];
  properties: Record<string, Property>;
  allOf?: readonly ConditionalRequirement[];
}

export const SERVICE_SCHEMAS: Readonly<Record<string, ServiceSchema>> = {
  ingress: ingressEnvSchema,
  operations: operationsEnvSchema,
  'approval-worker': approvalWorkerEnvSchema,
  'deprovision-worker': deprovisionWorkerEnvSchema,
};

export interface VariableReference {
  name: string;
  description: string;
  /** Per service: 'required', 'required when …', or 'optional'. */
  use: Record<string, string>;
  defaults: Record<string, unknown>;
  secret: boolean;
}

function conditionOf(rule: ConditionalRequirement): string {
  const [name, property] = Object.entries(rule.if?.properties ?? {})[0] ?? [];
  if (name !== undefined && property?.const !== undefined) return `${name}=${property.const}`;
  return `${(rule.if?.required ?? []).join(', ')} is set`;
}

/** Every variable of every service, in first-seen order. */
export function variableReference(): VariableReference[] {
  const byName = new Map<string, VariableReference>();
  for (const [service, schema] of Object.entries(SERVICE_SCHEMAS)) {
    const conditional = new Map<string, string>();
    for (const rule of [schema, ...(schema.allOf ?? [])]) {
      for (const name of rule.then?.required ?? []) conditional.set(name, conditionOf(rule));
    }
    for (const [name, property] of Object.entries(schema.properties)) {
      const entry = byName.get(name) ?? {
        name,
        description: property.description ?? '',
        use: {},
        defaults: {},
        secret: property.writeOnly === true,
      };
      const when = conditional.get(name);
      entry.use[service] = schema.required.includes(name)
        ? 'required'
        : when === undefined
          ? 'optional'
          : `required when ${when}`;
      if (property.default !== undefined) entry.defaults[service] = property.default;
      byName.set(name, entry);
    }
  }
  return [...byName.values()];
}

const shown = (value: unknown): string => (value === '' ? "''" : String(value));

function defaultsText(entry: VariableReference): string {
  const values = [...new Set(Object.values(entry.defaults).map(shown))];
  if (values.length <= 1) return values[0] ?? '';
  return Object.entries(entry.defaults)
    .map(([service, value]) => `${shown(value)} (${service})`)
    .join(', ');
}

function useText(entry: VariableReference): string {
  const uses = Object.values(entry.use);
  if (uses.length === Object.keys(SERVICE_SCHEMAS).length && new Set(uses).size === 1) {
    return `all services${uses[0] === 'optional' ? '' : ` (${uses[0]})`}`;
  }
  return Object.entries(entry.use)
    .map(([service, use]) => `${service}${use === 'optional' ? '' : ` (${use})`}`)
    .join(', ');
}

export function renderConfigTable(): string {
  const rows = variableReference().map(
    (entry) =>
      `| \`${entry.name}\` | ${useText(entry)} | ${defaultsText(entry) === '' ? '' : `\`${defaultsText(entry)}\``} | ${entry.description}${entry.secret ? ' Secret: never logged.' : ''} |`,
  );
  return [
    '| variable | services (requirement) | default | meaning |',
    '| --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

/**
 * What docker compose itself reads from .env besides the services' settings: the passwords of the
 * Redis users (deploy/redis/users.acl) and of the MongoDB users, from which it makes each service's
 * REDIS_URL and MONGODB_URL.
 */
export const COMPOSE_PASSWORDS = [
  'REDIS_ADMIN_PASSWORD',
  'REDIS_INGRESS_PASSWORD',
  'REDIS_OPERATIONS_PASSWORD',
  'REDIS_APPROVAL_WORKER_PASSWORD',
  'REDIS_DEPROVISION_WORKER_PASSWORD',
  'MONGO_ROOT_PASSWORD',
  'MONGO_OPERATIONS_PASSWORD',
  'MONGO_APPROVAL_WORKER_PASSWORD',
  'MONGO_DEPROVISION_WORKER_PASSWORD',
] as const;

export function renderEnvExample(): string {
  const lines = [
    '# Settings of the four services, generated from their config schemas by `npm run docs:config`.',
    '# Copy to .env for docker-compose and fill in the required ones; commented lines show the',
    '# defaults. Compose passes each service only the variables it uses, and makes REDIS_URL and',
    '# MONGODB_URL itself, with each service its own user (the passwords at the end).',
    '',
  ];
  for (const entry of variableReference()) {
    const required = Object.values(entry.use).filter((use) => use !== 'optional');
    lines.push(`# ${entry.description}${entry.secret ? ' Secret.' : ''}`);
    lines.push(`# Used by: ${useText(entry)}.`);
    const fallback = defaultsText(entry);
    if (required.length > 0 && required.every((use) => use === 'required')) {
      lines.push(`${entry.name}=`);
    } else {
      lines.push(
        `# ${entry.name}=${Object.keys(entry.defaults).length === 1 || !fallback.includes('(') ? fallback.replace(/^''$/, '') : ''}`,
      );
    }
    lines.push('');
  }
  lines.push(
    '# docker compose only: the passwords of the Redis and MongoDB users, URL-safe (they go into',
    '# REDIS_URL and MONGODB_URL), e.g. `openssl rand -hex 24` each. Secret.',
    ...COMPOSE_PASSWORDS.map((name) => `${name}=`),
    '',
  );
  return lines.join('\n');
}

/** Every metric of the catalog: name, type, labels, which services serve it, and its help. */
export function renderMetricsTable(): string {
  const rows = (Object.keys(METRICS) as MetricKey[]).map((key) => {
    const metric = METRICS[key];
    const labels = metric.labels.map((label) => `\`${label}\``).join(', ');
    return `| \`${metricName(key)}\` | ${metric.type} | ${labels} | ${metric.services.join(', ')} | ${metric.help} |`;
  });
  return [
    '| metric | type | labels | services | meaning |',
    '| --- | --- | --- | --- | --- |',
    ...rows,
  ].join('\n');
}

/** The page holding the generated configuration table, from the repository's root. */
export const CONFIG_REFERENCE_FILE = 'docs/configuration.md';
/** The page holding the generated metrics table, from the repository's root. */
export const METRICS_REFERENCE_FILE = 'docs/runbooks.md';

export const CONFIG_MARKERS = ['<!-- config-reference:start -->', '<!-- config-reference:end -->'];
export const METRICS_MARKERS = [
  '<!-- metrics-reference:start -->',
  '<!-- metrics-reference:end -->',
];

function withBlock(page: string, markers: readonly string[], body: string): string {
  const [start, end] = markers as [string, string];
  const from = page.indexOf(start);
  const to = page.indexOf(end);
  if (from < 0 || to < from) throw new Error(`the page has no ${start} … ${end} block`);
  return `${page.slice(0, from + start.length)}\n\n${body}\n\n${page.slice(to)}`;
}

/** The configuration page with its table as the schemas make it. */
export function withConfigTable(page: string): string {
  return withBlock(page, CONFIG_MARKERS, renderConfigTable());
}

/** The metrics page with its table as the catalog makes it. */
export function withMetricsTable(page: string): string {
  return withBlock(page, METRICS_MARKERS, renderMetricsTable());
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const root = fileURLToPath(new URL('../', import.meta.url));
  const configuration = await readFile(`${root}${CONFIG_REFERENCE_FILE}`, 'utf8');
  await writeFile(`${root}${CONFIG_REFERENCE_FILE}`, withConfigTable(configuration));
  const metrics = await readFile(`${root}${METRICS_REFERENCE_FILE}`, 'utf8');
  await writeFile(`${root}${METRICS_REFERENCE_FILE}`, withMetricsTable(metrics));
  await writeFile(`${root}.env.example`, renderEnvExample());
  process.stdout.write(
    `${CONFIG_REFERENCE_FILE} and ${METRICS_REFERENCE_FILE} tables and .env.example written\n`,
  );
}
