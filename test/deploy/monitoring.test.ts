// The monitoring pack (deploy/k8s/monitoring) agrees with the code: its alert rules pass
// `promtool test rules` on the series rules.test.yaml writes; its rules and its Grafana dashboard
// name only series the services export (the metric catalog); each alert has a runbook in
// docs/runbooks.md; each PodMonitor selects a Deployment's pods on a port they have; the operations
// service's is scraped with a token whose role reads metrics and nothing else.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { METRICS, metricName, type MetricKey } from '@fortellis-admin/service-kit';
import { findGoBinary, REPO_ROOT } from '@fortellis-admin/test-support';
import { loadOperationsConfig } from '../../services/operations/src/config.ts';

const PACK = `${REPO_ROOT}deploy/k8s/monitoring/`;
const read = (path: string): string => readFileSync(path, 'utf8');

interface Rule {
  alert: string;
  expr: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}
const ruleFile = parse(read(`${PACK}prometheus-rules.yaml`)) as {
  spec: { groups: Array<{ name: string; rules: Rule[] }> };
};
const rules = ruleFile.spec.groups.flatMap((group) => group.rules);
const dashboard = JSON.parse(read(`${PACK}grafana-dashboard.json`)) as {
  panels: Array<{ title: string; targets: Array<{ expr: string }> }>;
};

/** The catalogued series, with the suffixes a histogram's series carry. */
const exported = new Set(
  (Object.keys(METRICS) as MetricKey[]).flatMap((key) =>
    METRICS[key].type === 'histogram'
      ? ['_bucket', '_count', '_sum'].map((suffix) => `${metricName(key)}${suffix}`)
      : [metricName(key)],
  ),
);

/** The series names an expression reads: identifiers followed by a selector, a range or nothing. */
function seriesIn(expr: string): string[] {
  const withoutLabels = expr.replace(/\{[^}]*\}/g, '{}').replace(/"[^"]*"/g, '""');
  const keywords = new Set(['by', 'without', 'and', 'or', 'unless', 'on', 'ignoring', 'le']);
  return [...withoutLabels.matchAll(/\b([a-z_][a-z0-9_]*)\b(?!\s*\()/g)]
    .map((match) => match[1] ?? '')
    .filter((name) => !keywords.has(name) && /_/.test(name))
    .filter((name) => !/^(queue|state|route|status|work|service|party|outcome|final)$/.test(name));
}

describe('the monitoring pack', () => {
  const promtool = findGoBinary('promtool');

  it('its alert rules fire exactly when rules.test.yaml says (promtool test rules)', () => {
    if (promtool === undefined && process.env.PROMTOOL_ABSENT_OK !== '1')
      throw new Error(
        'promtool not found: run `npm run infra:install` (or set PROMTOOL_ABSENT_OK=1)',
      );
    if (promtool === undefined) return;
    const dir = mkdtempSync(join(tmpdir(), 'rules-'));
    try {
      writeFileSync(join(dir, 'rules.yaml'), JSON.stringify(ruleFile.spec));
      writeFileSync(join(dir, 'rules.test.yaml'), read(`${PACK}rules.test.yaml`));
      execFileSync(promtool, ['check', 'rules', join(dir, 'rules.yaml')], { stdio: 'pipe' });
      const out = execFileSync(promtool, ['test', 'rules', join(dir, 'rules.test.yaml')], {
        encoding: 'utf8',
        stdio: 'pipe',
      });
      expect(out).toContain('SUCCESS');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('every alert the rules define is tested, and has a runbook section in docs/runbooks.md', () => {
    const tested = new Set(
      (
        parse(read(`${PACK}rules.test.yaml`)) as {
          tests: Array<{ alert_rule_test: Array<{ alertname: string }> }>;
        }
      ).tests.flatMap((test) => test.alert_rule_test.map((case_) => case_.alertname)),
    );
    const runbooks = read(`${REPO_ROOT}docs/runbooks.md`);
    for (const rule of rules) {
      expect(tested, rule.alert).toContain(rule.alert);
      expect(runbooks, rule.alert).toContain(`#### ${rule.alert}\n`);
      expect(rule.annotations.runbook).toBe(`docs/runbooks.md#${rule.alert.toLowerCase()}`);
      expect(['page', 'warning']).toContain(rule.labels.severity);
    }
  });

  it('the rules and the dashboard name only series the services export', () => {
    const named = [
      ...rules.map((rule) => [rule.alert, rule.expr] as const),
      ...dashboard.panels.flatMap((panel) =>
        panel.targets.map((target) => [panel.title, target.expr] as const),
      ),
    ];
    expect(named.length).toBeGreaterThan(15);
    for (const [where, expr] of named) {
      const series = seriesIn(expr);
      expect(series.length, where).toBeGreaterThan(0);
      for (const name of series) expect(exported, `${where}: ${name}`).toContain(name);
    }
  });

  it("each PodMonitor selects a Deployment's pods on a port its containers declare", () => {
    const deployments = ['ingress', 'operations', 'approval-worker', 'deprovision-worker'].map(
      (service) =>
        parseAllDocuments(read(`${REPO_ROOT}deploy/k8s/base/${service}.yaml`))
          .map((doc) => doc.toJS() as Record<string, never>)
          .find((doc) => (doc as { kind?: string }).kind === 'Deployment') as unknown as {
          spec: {
            template: {
              metadata: { labels: Record<string, string> };
              spec: { containers: Array<{ ports?: Array<{ name: string }> }> };
            };
          };
        },
    );
    const monitors = parseAllDocuments(read(`${PACK}pod-monitors.yaml`)).map(
      (doc) =>
        doc.toJS() as {
          kind: string;
          spec: {
            selector: { matchLabels: Record<string, string> };
            podMetricsEndpoints: Array<{ port: string; path: string }>;
          };
        },
    );
    expect(monitors.map((monitor) => monitor.kind)).toEqual(Array(4).fill('PodMonitor'));
    // The token the operations service's monitor presents is a key the Secret is told to have.
    const secretKeys = read(`${REPO_ROOT}deploy/k8s/base/secret-keys.env.example`);
    for (const monitor of monitors)
      for (const endpoint of monitor.spec.podMetricsEndpoints) {
        const key = (endpoint as { authorization?: { credentials: { key: string } } }).authorization
          ?.credentials.key;
        if (key !== undefined) expect(secretKeys).toMatch(new RegExp(`^${key}=`, 'm'));
      }
    for (const deployment of deployments) {
      const labels = deployment.spec.template.metadata.labels;
      const monitor = monitors.find((candidate) =>
        Object.entries(candidate.spec.selector.matchLabels).every(([k, v]) => labels[k] === v),
      );
      expect(monitor, labels['app.kubernetes.io/name']).toBeDefined();
      const ports = deployment.spec.template.spec.containers.flatMap((c) =>
        (c.ports ?? []).map((port) => port.name),
      );
      for (const endpoint of monitor?.spec.podMetricsEndpoints ?? []) {
        expect(ports).toContain(endpoint.port);
        expect(endpoint.path).toBe('/metrics');
      }
    }
  });

  it('the operations monitor presents the token of a metrics-role entry, as the Secret example makes it', () => {
    const operations = parseAllDocuments(read(`${PACK}pod-monitors.yaml`))
      .map(
        (doc) =>
          doc.toJS() as {
            metadata: { name: string };
            spec: {
              podMetricsEndpoints: Array<{ authorization?: { credentials: { key: string } } }>;
            };
          },
      )
      .find((monitor) => monitor.metadata.name === 'fortellis-admin-operations');
    const key = operations?.spec.podMetricsEndpoints[0]?.authorization?.credentials.key;
    expect(key).toBe('OPS_SCRAPE_TOKEN');
    const example = read(`${REPO_ROOT}deploy/k8s/base/secret-keys.env.example`);
    // The example of OPS_API_TOKENS, with each <token> made as the comment says (openssl rand).
    const tokens = /^#\s+OPS_API_TOKENS=(\S+)$/m.exec(example)?.[1];
    expect(tokens).toBeDefined();
    const config = loadOperationsConfig({
      REDIS_URL: 'redis://r:6379',
      MONGODB_URL: 'mongodb://m:27017',
      OPS_API_TOKENS: tokens!.replaceAll('<token>', () => randomBytes(24).toString('hex')),
    });
    expect(config.tokens.map(({ name, role }) => `${name}:${role}`)).toEqual([
      'ada:admin',
      'otto:operator',
      'vera:viewer',
      'prometheus:metrics',
    ]);
    // The key's comment names the entry whose token it holds: one that reads metrics only.
    const entry = new RegExp(`the <token> of the (\\S+) entry[^=]*\\n${key}=`).exec(example)?.[1];
    expect(entry).toBe('prometheus:metrics');
  });

  it('kustomize renders the pack: the monitors, the rule, and the dashboard as a labelled ConfigMap', () => {
    const kustomize = findGoBinary('kustomize');
    if (kustomize === undefined && process.env.KUSTOMIZE_ABSENT_OK !== '1')
      throw new Error(
        'kustomize not found: run `npm run infra:install` (or set KUSTOMIZE_ABSENT_OK=1)',
      );
    if (kustomize === undefined) return;
    const rendered = parseAllDocuments(
      execFileSync(kustomize, ['build', PACK], { encoding: 'utf8' }),
    ).map(
      (doc) =>
        doc.toJS() as {
          kind: string;
          metadata: { name: string; labels?: Record<string, string> };
          data?: Record<string, string>;
        },
    );
    expect(rendered.map((doc) => doc.kind).sort()).toEqual([
      'ConfigMap',
      'PodMonitor',
      'PodMonitor',
      'PodMonitor',
      'PodMonitor',
      'PrometheusRule',
    ]);
    const configMap = rendered.find((doc) => doc.kind === 'ConfigMap');
    expect(configMap?.metadata.labels?.grafana_dashboard).toBe('1');
    expect(JSON.parse(configMap?.data?.['fortellis-admin.json'] ?? '{}').uid).toBe(
      'fortellis-admin',
    );
  });
});
