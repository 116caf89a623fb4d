// The Kubernetes dev overlay (deploy/k8s/overlays/dev, rendered by kustomize) run by `podman kube
// play` with the images built from deploy/Dockerfile: the ConfigMap and the Secret reach each
// container's environment as the Deployments wire them, the security context holds (uid 1000,
// read-only root, no capabilities, no privilege escalation), and the endpoints of the liveness and
// readiness probes answer on the pod's address, as the kubelet would ask them.
//
// What the test changes in the rendered overlay, and why: the image tag (`main` → this run's
// build); the ConfigMap's Fortellis URLs point at a simulator pod (with ALLOW_INSECURE_HTTP and
// ALLOW_SIMULATOR_CREDENTIALS, as deploy/compose/sim.env does), for nothing may reach an outside
// host from here. Redis (the shipped ACL, rendered by render-acl.sh) and a MongoDB-wire server
// (FerretDB, no authentication) run as pods beside it, as the overlay expects managed ones.
//
// What podman 4.3 cannot do, found by running it (documented below, where each is met):
// - a Secret it plays from a manifest is stored in a form its own `secretKeyRef` cannot read
//   ("secret fortellis-admin-secrets is not valid JSON"): the Secret is created with `podman
//   secret create` from the JSON podman reads instead;
// - it turns an httpGet livenessProbe into a `curl` HEALTHCHECK, with a named port as port 0
//   ("curl -f http://localhost:0/health || exit 1"): the images have no curl (nor a shell), so
//   podman's own check could never pass; the readinessProbe is ignored. The test asks the
//   endpoints itself;
// - Services, NetworkPolicies, the HPA, PodDisruptionBudgets and the Ingress are ignored (pods
//   reach each other by pod name on one podman network), and an `emptyDir` becomes a podman volume
//   named after it, shared by every pod of the play (`tmp`).
// Runs where podman is; skipped elsewhere (a Docker engine has no `kube play`), never on CI.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, stringify } from 'yaml';
import {
  REPO_ROOT,
  ensureImages,
  containerExec,
  engineCommand,
  findContainerEngine,
  findGoBinary,
  imageName,
  type ContainerEngine,
  type ImageTarget,
} from '@fortellis-admin/test-support';
import { ensureStandins, type Standins } from './compose/standins.ts';

const SERVICES = ['ingress', 'operations', 'approval-worker', 'deprovision-worker'] as const;
type Service = (typeof SERVICES)[number];
const BACKING_PODS = ['fa-kube-redis', 'fa-kube-mongo', 'fa-kube-sim'];

const engine = await findContainerEngine();
const podman = engine?.kind === 'podman' ? engine : undefined;
const onCi = process.env.CI === 'true';

/** The parts of a rendered manifest the test reads. */
interface Probe {
  httpGet: { path: string; port: string | number };
}
interface Container {
  name: string;
  image: string;
  ports?: { name?: string; containerPort: number }[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { key: string } } }[];
  livenessProbe?: Probe;
  readinessProbe?: Probe;
}
interface Manifest {
  kind: string;
  metadata: { name: string; namespace?: string };
  data?: Record<string, string>;
  spec?: { template?: { spec: { containers: Container[] } } };
}

/** The dev overlay as kustomize renders it. */
function renderDevOverlay(): Manifest[] {
  const kustomize = findGoBinary('kustomize');
  if (kustomize === undefined) throw new Error('kustomize not found: run `npm run infra:install`');
  const text = execFileSync(kustomize, ['build', `${REPO_ROOT}deploy/k8s/overlays/dev`], {
    encoding: 'utf8',
  });
  return parseAllDocuments(text).map((document) => document.toJS() as Manifest);
}

const deploymentName = (service: Service): string => `fortellis-admin-${service}`;
/** The container `podman kube play` makes: <pod>-<container>, the pod being <deployment>-pod-0. */
const containerName = (service: Service): string => `${deploymentName(service)}-pod-0-${service}`;

describe.skipIf(podman === undefined && !onCi)('the dev overlay under `podman kube play`', () => {
  let workDir: string;
  let network: string;
  let manifests: Manifest[];
  let overlayFile: string;
  let backingFile: string;
  let standins: Standins;
  let imageTag = 'local';
  const secret: Record<string, string> = {};
  const passwords: Record<string, string> = {};
  let secretRefusal: string | undefined;
  const engineOf = (): ContainerEngine => podman!;

  const run = (args: string[], timeoutMs = 120_000) =>
    engineCommand(engineOf(), args, { timeoutMs, allowFailure: true });

  /** Pods, containers, volumes, secrets and the network this test made that podman still has. */
  async function leftovers(): Promise<string[]> {
    const lines = async (args: string[]): Promise<string[]> =>
      (await run(args)).stdout.split('\n').filter((line) => line !== '');
    const pods = (await lines(['pod', 'ps', '--format', '{{.Name}}'])).filter(
      (name) => name.startsWith('fortellis-admin-') || name.startsWith('fa-kube-'),
    );
    const volumes = (await lines(['volume', 'ls', '--format', '{{.Name}}'])).filter(
      (name) => name === 'tmp',
    );
    const secrets = (await lines(['secret', 'ls', '--format', '{{.Name}}'])).filter(
      (name) => name === 'fortellis-admin-secrets',
    );
    const networks = (await lines(['network', 'ls', '--format', '{{.Name}}'])).filter(
      (name) => name === network,
    );
    return [
      ...pods.map((name) => `pod ${name}`),
      ...volumes.map((name) => `volume ${name}`),
      ...secrets.map((name) => `secret ${name}`),
      ...networks.map((name) => `network ${name}`),
    ];
  }

  beforeAll(async () => {
    if (podman === undefined) throw new Error('`podman kube play` needs podman (not found, on CI)');
    workDir = mkdtempSync(join(tmpdir(), 'kube-play-'));
    network = `fa-kube-test-${process.pid}`;
    const started = performance.now();
    const targets: ImageTarget[] = [...SERVICES, 'simulator'];
    // The images of this tree, shared with the image and compose tests (built once).
    const built = await ensureImages(podman, { targets });
    imageTag = built[0]!.image.split(':').at(-1)!;
    standins = await ensureStandins(podman);
    process.stdout.write(
      `kube play test: images built in ${((performance.now() - started) / 1000).toFixed(0)} s\n`,
    );

    // The backing services and the simulator, as pods on the play's network.
    for (const name of ['ADMIN', 'INGRESS', 'OPERATIONS', 'APPROVAL_WORKER', 'DEPROVISION_WORKER'])
      passwords[`REDIS_${name}_PASSWORD`] = randomBytes(24).toString('hex');
    const redisUrl = (user: string): string =>
      `redis://${user}:${passwords[`REDIS_${user.toUpperCase().replaceAll('-', '_')}_PASSWORD`]}@fa-kube-redis:6379`;
    const backing = [
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'fa-kube-redis' },
        spec: {
          containers: [
            {
              name: 'redis',
              image: `localhost/${standins.redis}`,
              // As docker-compose.yml runs Redis: the shipped ACL with the passwords rendered in.
              command: [
                'sh',
                '-c',
                'sh /etc/fortellis-admin/render-acl.sh /etc/fortellis-admin/users.acl /tmp/users.acl && chown redis /tmp/users.acl && exec docker-entrypoint.sh redis-server --aclfile /tmp/users.acl --appendonly yes --appendfsync always --maxmemory-policy noeviction',
              ],
              env: Object.entries(passwords).map(([name, value]) => ({ name, value })),
              volumeMounts: [{ name: 'acl', mountPath: '/etc/fortellis-admin', readOnly: true }],
            },
          ],
          volumes: [
            { name: 'acl', hostPath: { path: `${REPO_ROOT}deploy/redis`, type: 'Directory' } },
          ],
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'fa-kube-mongo' },
        spec: {
          containers: [
            {
              name: 'ferretdb',
              image: `localhost/${standins.mongo}`,
              args: [
                '--handler=sqlite',
                '--sqlite-url=file:/data/db/',
                '--state-dir=/data/db',
                '--listen-addr=:27017',
                '--debug-addr=127.0.0.1:8088',
                '--telemetry=disable',
                '--log-level=warn',
              ],
            },
          ],
        },
      },
      {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name: 'fa-kube-sim' },
        spec: {
          containers: [
            {
              name: 'simulator',
              image: `localhost/${imageName('simulator', imageTag)}`,
              args: [
                'test/simulator/src/cli.ts',
                'serve',
                '--host',
                '0.0.0.0',
                '--port',
                '4010',
                '--public-url',
                'http://fa-kube-sim:4010',
              ],
            },
          ],
        },
      },
    ];
    backingFile = join(workDir, 'backing.yaml');
    writeFileSync(backingFile, backing.map((doc) => stringify(doc)).join('---\n'));

    // The Secret's keys (deploy/k8s/base/secret-keys.env.example) with values for these pods.
    Object.assign(secret, {
      INGRESS_REDIS_URL: redisUrl('ingress'),
      OPERATIONS_REDIS_URL: redisUrl('operations'),
      APPROVAL_WORKER_REDIS_URL: redisUrl('approval-worker'),
      DEPROVISION_WORKER_REDIS_URL: redisUrl('deprovision-worker'),
      OPERATIONS_MONGODB_URL: 'mongodb://fa-kube-mongo:27017/?appName=operations',
      APPROVAL_WORKER_MONGODB_URL: 'mongodb://fa-kube-mongo:27017/?appName=approval-worker',
      DEPROVISION_WORKER_MONGODB_URL: 'mongodb://fa-kube-mongo:27017/?appName=deprovision-worker',
      FORTELLIS_CLIENT_ID: 'sim-provider-client',
      FORTELLIS_CLIENT_SECRET: 'sim-provider-secret',
      OPS_API_TOKENS: `kube:admin=${randomBytes(24).toString('hex')}`,
    });

    // The rendered overlay, with this run's images and the simulator in place of Fortellis.
    manifests = renderDevOverlay();
    const sim = 'http://fa-kube-sim:4010';
    for (const manifest of manifests) {
      if (manifest.kind === 'ConfigMap' && manifest.metadata.name === 'fortellis-admin-config') {
        Object.assign(manifest.data!, {
          FORTELLIS_ISSUER: `${sim}/oauth2/aus1p1ixy7YL8cMq02p7`,
          FORTELLIS_JWKS_URL: `${sim}/oauth2/aus1p1ixy7YL8cMq02p7/v1/keys`,
          FORTELLIS_TOKEN_URL: `${sim}/oauth2/aus1p1ixy7YL8cMq02p7/v1/token`,
          FORTELLIS_CALLBACK_BASE_URL: sim,
          ALLOW_INSECURE_HTTP: 'true',
          ALLOW_SIMULATOR_CREDENTIALS: 'true',
        });
      }
      for (const container of manifest.spec?.template?.spec.containers ?? []) {
        const match = /^fortellis-admin\/([a-z-]+):main$/.exec(container.image);
        expect(match, container.image).not.toBeNull();
        container.image = `localhost/${imageName(match![1] as ImageTarget, imageTag)}`;
      }
    }
    overlayFile = join(workDir, 'overlay.yaml');
    writeFileSync(overlayFile, manifests.map((doc) => stringify(doc)).join('---\n'));

    await run(['network', 'create', network]);
    const backed = await run(['kube', 'play', '--network', network, backingFile], 180_000);
    if (backed.code !== 0)
      throw new Error(`kube play of the backing pods failed:\n${backed.stderr}`);

    // The Secret as a manifest first, as `kubectl apply` would take it.
    const secretFile = join(workDir, 'secret.yaml');
    writeFileSync(
      secretFile,
      stringify({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'fortellis-admin-secrets' },
        stringData: secret,
      }),
    );
    await run(['kube', 'play', '--network', network, secretFile]);
    let played = await run(['kube', 'play', '--network', network, overlayFile], 300_000);
    const refused = /secret fortellis-admin-secrets is not valid JSON[^\n]*/.exec(played.stderr);
    if (played.code !== 0 && refused !== null) {
      // podman 4.3 stores a played Secret as its YAML, and its secretKeyRef reads a JSON map of
      // base64 values: it cannot use a Secret it played. Create the secret in the form it reads.
      secretRefusal = refused[0];
      process.stdout.write(`kube play test: podman refused the played Secret: ${secretRefusal}\n`);
      // The pods it made before it refused stay (`kube down` leaves a pod that never started).
      await run([
        'pod',
        'rm',
        '--force',
        '--ignore',
        ...SERVICES.map((name) => `${deploymentName(name)}-pod-0`),
      ]);
      await run(['secret', 'rm', 'fortellis-admin-secrets']);
      const json = join(workDir, 'secret.json');
      writeFileSync(
        json,
        JSON.stringify(
          Object.fromEntries(
            Object.entries(secret).map(([key, value]) => [
              key,
              Buffer.from(value).toString('base64'),
            ]),
          ),
        ),
        { mode: 0o600 },
      );
      await engineCommand(podman, ['secret', 'create', 'fortellis-admin-secrets', json]);
      played = await run(['kube', 'play', '--network', network, overlayFile], 300_000);
    }
    if (played.code !== 0)
      throw new Error(`kube play of the dev overlay failed:\n${played.stderr}`);
  }, 1_200_000);

  afterAll(async () => {
    if (podman === undefined) return;
    if (overlayFile !== undefined) await run(['kube', 'down', overlayFile], 180_000);
    if (backingFile !== undefined) await run(['kube', 'down', backingFile], 180_000);
    // Whatever a failed play left (`kube down` leaves a pod that never started).
    const pods = [...SERVICES.map((name) => `${deploymentName(name)}-pod-0`), ...BACKING_PODS];
    await run(['pod', 'rm', '--force', '--ignore', ...pods], 180_000);
    await run(['secret', 'rm', 'fortellis-admin-secrets']);
    // `kube down` of the first play cannot remove the `tmp` volume the other pods still use.
    await run(['volume', 'rm', '--force', 'tmp']);
    if (network !== undefined) await run(['network', 'rm', '--force', network]);
    if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
    expect(await leftovers()).toEqual([]);
  }, 300_000);

  /** The manifest's container of a service. */
  function containerOf(service: Service): Container {
    const deployment = manifests.find(
      (m) => m.kind === 'Deployment' && m.metadata.name === deploymentName(service),
    );
    return deployment!.spec!.template!.spec.containers[0]!;
  }

  /** What the service's process sees: its environment, uid, capabilities, a write to /. */
  async function inside(service: Service): Promise<{
    env: Record<string, string>;
    uid: number;
    gid: number;
    capEff: string;
    noNewPrivs: string;
    rootWrite: string;
    tmpWrite: string;
  }> {
    const script = `
      const fs = require('node:fs');
      const status = fs.readFileSync('/proc/self/status', 'utf8');
      const field = (name) => (new RegExp('^' + name + ':\\\\s*(\\\\S+)', 'm').exec(status) ?? [])[1];
      const attempt = (path) => { try { fs.writeFileSync(path, 'x'); fs.rmSync(path); return 'ok'; } catch (e) { return e.code; } };
      process.stdout.write(JSON.stringify({
        env: process.env, uid: process.getuid(), gid: process.getgid(),
        capEff: field('CapEff'), noNewPrivs: field('NoNewPrivs'),
        rootWrite: attempt('/app/kube-play-probe'), tmpWrite: attempt('/tmp/kube-play-probe'),
      }));`;
    const result = await containerExec(podman!, containerName(service), ['node', '-e', script]);
    if (result.code !== 0) throw new Error(`exec in ${service} failed: ${result.stderr}`);
    return JSON.parse(result.stdout) as Awaited<ReturnType<typeof inside>>;
  }

  it.each(SERVICES)('%s: the ConfigMap and the Secret reach the process', async (service) => {
    const { env } = await inside(service);
    // envFrom the ConfigMap (as the overlay patches it: debug logs, the dev public URL).
    const config = manifests.find((m) => m.kind === 'ConfigMap')!.data!;
    expect(env.LOG_LEVEL).toBe('debug');
    expect(env.PUBLIC_BASE_URL).toBe('https://fortellis-admin.dev.example.com');
    for (const [name, value] of Object.entries(config)) expect(env[name], name).toBe(value);
    // Each secretKeyRef, with the value of its own key.
    for (const variable of containerOf(service).env ?? []) {
      const key = variable.valueFrom?.secretKeyRef?.key;
      if (key !== undefined) expect(env[variable.name], variable.name).toBe(secret[key]);
      else expect(env[variable.name], variable.name).toBe(variable.value);
    }
    // The ingress gets neither MongoDB nor the operator tokens, nor the client secret.
    if (service === 'ingress') {
      expect(env.MONGODB_URL).toBeUndefined();
      expect(env.OPS_API_TOKENS).toBeUndefined();
      expect(env.FORTELLIS_CLIENT_SECRET).toBeUndefined();
    }
  });

  it.each(SERVICES)('%s: runs as uid 1000, read-only, without capabilities', async (service) => {
    const seen = await inside(service);
    expect({ uid: seen.uid, gid: seen.gid }).toEqual({ uid: 1000, gid: 1000 });
    expect(seen.capEff).toBe('0000000000000000');
    expect(seen.noNewPrivs).toBe('1');
    expect(seen.rootWrite).toBe('EROFS');
    // The emptyDir at /tmp is writable.
    expect(seen.tmpWrite).toBe('ok');
    const { stdout } = await engineCommand(podman!, [
      'inspect',
      '--format',
      '{{.HostConfig.ReadonlyRootfs}} {{json .HostConfig.CapAdd}}',
      containerName(service),
    ]);
    expect(stdout.trim()).toBe('true []');
  });

  it.each(SERVICES)("%s: the probes' endpoints answer on the pod's address", async (service) => {
    const container = containerOf(service);
    const { stdout } = await engineCommand(podman!, [
      'inspect',
      '--format',
      '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}',
      containerName(service),
    ]);
    const address = stdout.trim();
    for (const probe of [container.livenessProbe, container.readinessProbe]) {
      expect(probe, 'probe').toBeDefined();
      const { path, port } = probe!.httpGet;
      const number =
        typeof port === 'number'
          ? port
          : container.ports!.find((candidate) => candidate.name === port)!.containerPort;
      // Readiness waits on Redis, MongoDB and (the ingress) the JWKS: allow for start-up.
      let status = 0;
      for (const deadline = Date.now() + 60_000; Date.now() < deadline; await delay(1000)) {
        status = await fetch(`http://${address}:${number}${path}`, {
          signal: AbortSignal.timeout(3000),
        }).then(
          (response) => response.status,
          () => 0,
        );
        if (status === 200) break;
      }
      expect({ path, port, status }).toEqual({ path, port, status: 200 });
    }
  });

  it("records what podman makes of the probes and the Secret (podman 4.3's limits)", async () => {
    const version = (
      await engineCommand(podman!, ['version', '--format', '{{.Client.Version}}'])
    ).stdout.trim();
    const { stdout } = await engineCommand(podman!, [
      'inspect',
      '--format',
      '{{json .Config.Healthcheck.Test}}',
      containerName('ingress'),
    ]);
    const healthcheck = JSON.parse(stdout) as string[];
    process.stdout.write(
      `kube play test: podman ${version}: livenessProbe → HEALTHCHECK ${JSON.stringify(healthcheck)}; played Secret: ${secretRefusal ?? 'usable'}\n`,
    );
    if (version.startsWith('4.3.')) {
      // A curl command (absent from the images) on port 0 (the named port `monitoring` lost).
      expect(healthcheck).toEqual([
        'CMD-SHELL',
        'curl',
        '-f',
        'http://localhost:0/health',
        '||',
        'exit',
        '1',
      ]);
      expect(secretRefusal).toMatch(/not valid JSON/);
    }
  });
});
