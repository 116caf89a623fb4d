// The highly available Kubernetes overlay (deploy/k8s/overlays/ha), as kustomize renders it: two or
// more pods of every service, spread over zones and nodes; a disruption budget per Deployment that
// lets a drain go on (never one that blocks every eviction); Redis through Sentinel with each
// service's own ACL user and no REDIS_URL left; secrets only through the Secret; the ingress
// acknowledging once a replica holds a job; MongoDB as a replica set. The checks every overlay
// passes (config loaders, probes, security, network policies) are in deployment.test.ts, which
// renders this overlay too.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT, findGoBinary } from '@fortellis-admin/test-support';

type Env = Record<string, string>;
interface Manifest {
  kind: string;
  metadata: { name: string };
  spec?: any;
  data?: Env;
}
interface EnvEntry {
  name: string;
  value?: string;
  valueFrom?: { secretKeyRef?: { name: string; key: string }; configMapKeyRef?: unknown };
}

const read = (path: string): string => readFileSync(`${REPO_ROOT}${path}`, 'utf8');
const kustomize = findGoBinary('kustomize');
if (kustomize === undefined)
  throw new Error('kustomize not found: run `npm run infra:install` (it builds it)');
const manifests = parseAllDocuments(
  execFileSync(kustomize, ['build', `${REPO_ROOT}deploy/k8s/overlays/ha`], { encoding: 'utf8' }),
)
  .map((doc) => doc.toJS() as Manifest)
  .filter((doc) => doc !== null);

const deployments = manifests.filter((doc) => doc.kind === 'Deployment');
const of = (kind: string) => manifests.filter((doc) => doc.kind === kind);
const podLabels = (deployment: Manifest): Env => deployment.spec.template.metadata.labels as Env;
const selects = (selector: { matchLabels?: Env } | undefined, labels: Env): boolean =>
  Object.entries(selector?.matchLabels ?? { none: 'none' }).every(([k, v]) => labels[k] === v);
const containerOf = (deployment: Manifest) =>
  deployment.spec.template.spec.containers[0] as { name: string; env?: EnvEntry[] };
const config = of('ConfigMap').find((doc) => doc.metadata.name === 'fortellis-admin-config')!;

/** The least number of pods a Deployment runs: its replicas, or its autoscaler's minimum. */
function minimumPods(deployment: Manifest): number {
  const hpa = of('HorizontalPodAutoscaler').find(
    (doc) => doc.spec.scaleTargetRef.name === deployment.metadata.name,
  );
  return hpa?.spec.minReplicas ?? deployment.spec.replicas ?? 1;
}

describe('the ha overlay (deploy/k8s/overlays/ha)', () => {
  it('renders the four services', () => {
    expect(deployments.map((doc) => doc.metadata.name).sort()).toEqual([
      'fortellis-admin-approval-worker',
      'fortellis-admin-deprovision-worker',
      'fortellis-admin-ingress',
      'fortellis-admin-operations',
    ]);
  });

  it.each(deployments.map((doc) => [doc.metadata.name, doc] as const))(
    '%s: two pods or more, spread over zones and nodes',
    (_name, deployment) => {
      expect(minimumPods(deployment)).toBeGreaterThanOrEqual(2);
      const constraints = deployment.spec.template.spec.topologySpreadConstraints as {
        topologyKey: string;
        maxSkew: number;
        whenUnsatisfiable: string;
        labelSelector: { matchLabels: Env };
      }[];
      const byKey = Object.fromEntries(constraints.map((c) => [c.topologyKey, c]));
      expect(Object.keys(byKey).sort()).toEqual([
        'kubernetes.io/hostname',
        'topology.kubernetes.io/zone',
      ]);
      for (const constraint of constraints) {
        expect(constraint.maxSkew).toBe(1);
        // Its own pods, and only them: the selector is the Deployment's own.
        expect(constraint.labelSelector.matchLabels).toEqual(deployment.spec.selector.matchLabels);
        expect(selects(constraint.labelSelector, podLabels(deployment))).toBe(true);
      }
      // Never two on one node while another can take one; zones as even as they allow (a lost
      // zone must not stop scheduling in the others).
      expect(byKey['kubernetes.io/hostname']!.whenUnsatisfiable).toBe('DoNotSchedule');
      expect(byKey['topology.kubernetes.io/zone']!.whenUnsatisfiable).toBe('ScheduleAnyway');
    },
  );

  it.each(deployments.map((doc) => [doc.metadata.name, doc] as const))(
    '%s: exactly one disruption budget selects its pods, and it never blocks every eviction',
    (_name, deployment) => {
      const budgets = of('PodDisruptionBudget').filter((budget) =>
        selects(budget.spec.selector, podLabels(deployment)),
      );
      expect(budgets).toHaveLength(1);
      const { maxUnavailable, minAvailable } = budgets[0]!.spec as {
        maxUnavailable?: number;
        minAvailable?: number;
      };
      // Integers only: a percentage rounds, and 50% of 1 pod blocks a drain.
      if (maxUnavailable !== undefined) {
        expect(minAvailable).toBeUndefined();
        expect(maxUnavailable).toBe(1);
      } else {
        expect(minAvailable).toBe(1);
        expect(minimumPods(deployment)).toBeGreaterThan(minAvailable!);
      }
    },
  );

  it('Redis through three Sentinels: each service as its own ACL user, no REDIS_URL anywhere', () => {
    const sentinels = config.data!.REDIS_SENTINELS!.split(',');
    expect(sentinels).toHaveLength(3);
    for (const address of sentinels) expect(address).toMatch(/^[a-z0-9.-]+:26379$/);
    expect(config.data!.REDIS_SENTINEL_MASTER).toMatch(/^[A-Za-z0-9_.-]+$/);
    expect(config.data!.REDIS_TLS).toBe('true');
    expect(config.data).not.toHaveProperty('REDIS_URL');
    expect(config.data).not.toHaveProperty('REDIS_CLUSTER_NODES');
    const users = read('deploy/redis/users.acl');
    for (const deployment of deployments) {
      const container = containerOf(deployment);
      const names = (container.env ?? []).map((entry) => entry.name);
      expect(names).not.toContain('REDIS_URL');
      expect(names).not.toContain('REDIS_SENTINELS');
      const user = container.env!.find((entry) => entry.name === 'REDIS_USERNAME')?.value;
      expect(user).toBe(container.name);
      expect(users).toMatch(new RegExp(`^user ${user} on `, 'm'));
    }
  });

  it('every password and URL comes from the Secret, none is written out', () => {
    for (const deployment of deployments) {
      for (const entry of containerOf(deployment).env ?? []) {
        if (!/PASSWORD|SECRET|TOKEN|MONGODB_URL|KEY$/.test(entry.name)) continue;
        expect(entry.value, entry.name).toBeUndefined();
        expect(entry.valueFrom?.secretKeyRef?.name, entry.name).toBe('fortellis-admin-secrets');
      }
      const keys = (containerOf(deployment).env ?? []).map(
        (entry) => entry.valueFrom?.secretKeyRef?.key,
      );
      expect(keys).toContain('REDIS_SENTINEL_PASSWORD');
    }
    for (const value of Object.values(config.data!)) expect(value).not.toMatch(/:\/\/[^/]*:[^/]*@/);
    expect(of('Secret')).toEqual([]);
  });

  it('every service relies on a Redis write only once a replica holds it (ACK_REPLICAS=1)', () => {
    for (const deployment of deployments) {
      const ack = containerOf(deployment).env?.find((entry) => entry.name === 'ACK_REPLICAS');
      expect(ack?.value, deployment.metadata.name).toBe('1');
    }
    expect(config.data).not.toHaveProperty('ACK_REPLICAS');
  });

  it("MongoDB's example URLs name the replica set (or are SRV names), with TLS", () => {
    const example = read('deploy/k8s/overlays/ha/secret-keys.env.example');
    const urls = [...example.matchAll(/^(\w+_MONGODB_URL)=(.*)$/gm)];
    expect(urls.map((match) => match[1]).sort()).toEqual([
      'APPROVAL_WORKER_MONGODB_URL',
      'DEPROVISION_WORKER_MONGODB_URL',
      'OPERATIONS_MONGODB_URL',
    ]);
    for (const [, , url] of urls) {
      expect(url).toMatch(/^mongodb\+srv:\/\/|[?&]replicaSet=\w+/);
      expect(url).toMatch(/[?&]tls=true/);
      // Every member listed, so the driver finds the primary whichever is down at start.
      if (url!.startsWith('mongodb://'))
        expect(url!.split('@')[1]!.split('/')[0]!.split(',').length).toBeGreaterThanOrEqual(3);
    }
  });
});
