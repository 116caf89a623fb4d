// The images as they ship: every target of deploy/Dockerfile built with the container engine
// found here (Docker when an engine answers, else podman with the project's containers.conf and,
// without the registry's node:24-slim, the stand-in that `npm run infra:install` makes), then run
// as docker-compose.yml runs them: read-only root, a /tmp tmpfs, all capabilities dropped,
// no-new-privileges, the image's uid 1000, each service's `environment` and `mem_limit` from the
// compose file.
// They run on the host's network against this run's Redis, MongoDB-wire server and simulator
// (127.0.0.1), so the ports compose pins are replaced with free ones. The whole loop goes through
// them; each image's HEALTHCHECK is run (no engine here schedules them), SIGTERM must drain and
// exit 0 within compose's grace period with tini as PID 1, and no image may hold test code, dev
// dependencies, npm or a shell. Sizes, build times and idle cgroup memory are printed.
import { readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { MongoClient } from 'mongodb';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { parse } from 'yaml';
import type { ConnectionDocument } from '@fortellis-admin/connection-store';
import { FortellisCaller, startSimulator, type Simulator } from '@fortellis-admin/simulator';
import {
  REPO_ROOT,
  ensureImages,
  containerExec,
  containerLogs,
  containerMemory,
  createTestNamespace,
  findContainerEngine,
  freePort,
  imageHealthcheck,
  imageSize,
  listImageFiles,
  removeContainers,
  startHardenedContainer,
  stopContainer,
  type BuiltImage,
  type ContainerEngine,
  type ImageTarget,
} from '@fortellis-admin/test-support';

type Env = Record<string, string>;
type ServiceTarget = Exclude<ImageTarget, 'simulator'>;
const SERVICES: readonly ServiceTarget[] = [
  'ingress',
  'operations',
  'approval-worker',
  'deprovision-worker',
];
const OPERATOR_TOKEN = '7c1e9a4f2b8d6035e1f7a9c3b5d2e8f4a6c0b1d9';

const engine = await findContainerEngine();
if (engine === undefined) {
  console.warn(
    '\n*** test/deploy/images.test.ts: NO CONTAINER ENGINE (no Docker engine answers, no podman): the images are neither built nor run. Install podman (`npm run infra:install`) or start Docker. ***\n',
  );
}

interface ComposeService {
  environment?: Record<string, string | number | boolean | null>;
  stop_grace_period?: string;
  mem_limit?: string;
}
// `merge`: the services take their shared settings (stop_grace_period...) through `<<: *service`.
const compose = parse(readFileSync(`${REPO_ROOT}docker-compose.yml`, 'utf8'), { merge: true }) as {
  services: Record<string, ComposeService>;
};

function parseEnvFile(text: string): Env {
  const env: Env = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line.trim());
    if (match !== null) env[match[1]!] = match[2]!;
  }
  return env;
}

/** Compose's interpolation of `${NAME}`, `${NAME:-default}`, `${NAME:?message}` and `$$`. */
function interpolate(value: string, dotenv: Env): string {
  return value.replace(
    /\$\$|\$\{([A-Z0-9_]+)(?::([-?])([^}]*))?\}/g,
    (whole, name?: string, kind?: string, rest?: string) => {
      if (name === undefined) return '$';
      const set = dotenv[name];
      if (set !== undefined && set !== '') return set;
      if (kind === '?') throw new Error(`compose needs ${name}: ${rest}`);
      return kind === '-' ? (rest ?? '') : '';
    },
  );
}

/** A service's environment as compose gives it, with `pinned` replacing literal values. */
function composeEnv(service: string, dotenv: Env, pinned: Env): Env {
  const env: Env = {};
  for (const [name, raw] of Object.entries(compose.services[service]?.environment ?? {})) {
    env[name] = pinned[name] ?? interpolate(String(raw ?? ''), dotenv);
  }
  return env;
}

function graceSeconds(service: string): number {
  const text = compose.services[service]?.stop_grace_period ?? '10s';
  return Number(/^(\d+)s$/.exec(text)?.[1] ?? 10);
}

const mb = (bytes: number): string => `${(bytes / 1e6).toFixed(1)} MB`;

async function until(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await delay(300);
  }
}

if (engine === undefined && process.env.CI === 'true') {
  describe('the images of deploy/Dockerfile', () => {
    it('have a container engine to build and run them in CI', () => {
      expect.fail(
        'CI=true but neither a Docker engine nor podman is here: run `npm run infra:install`',
      );
    });
  });
}

describe.skipIf(engine === undefined)(
  'the images of deploy/Dockerfile, built and run as compose runs them',
  () => {
    const ctr = engine as ContainerEngine;
    const built = new Map<ImageTarget, BuiltImage>();
    const names = new Map<ImageTarget, string>();
    const running: string[] = [];
    let sim: Simulator;
    let mongo: MongoClient;
    let ingressUrl = '';
    let opsUrl = '';
    let dbName = '';
    let buildSeconds = 0;

    beforeAll(async () => {
      const started = performance.now();
      // The first build makes the layers every image shares; the others then build two at a time.
      // The compose and `kube play` tests use the same images (one build per tree).
      for (const image of await ensureImages(ctr, { concurrency: 2 }))
        built.set(image.target, image);
      buildSeconds = (performance.now() - started) / 1000;
      for (const target of built.keys()) names.set(target, `fa-${target}-${process.pid}`);
    }, 900_000);

    afterAll(async () => {
      if (running.length > 0) await removeContainers(ctr, running);
      await Promise.all([sim?.stop(), mongo?.close()]);
    }, 120_000);

    it(
      'are small, and hold no test code, dev dependency, npm or shell',
      { timeout: 300_000 },
      async () => {
        const base = ctr.baseImage === undefined ? Number.NaN : await imageSize(ctr, ctr.baseImage);
        const lines = [
          `base ${ctr.baseImage}: ${mb(base)}; all built in ${buildSeconds.toFixed(0)} s`,
        ];
        for (const { target, image, seconds } of built.values()) {
          const size = await imageSize(ctr, image);
          lines.push(
            `${target}: ${mb(size)} (${seconds === 0 ? 'built earlier for this tree' : `built in ${seconds.toFixed(1)} s`})`,
          );
          expect(size, `${target} size`).toBeLessThanOrEqual(200e6);
          const files = await listImageFiles(ctr, image);
          expect(files, target).toContain('usr/local/bin/node');
          expect(files, target).toContain('usr/bin/tini');
          const app = files.filter(
            (path) => path.startsWith('app/') && !path.startsWith('app/node_modules/'),
          );
          const holds = (prefix: string): boolean =>
            files.some((path) => path === prefix || path.startsWith(`${prefix}/`));
          expect(
            app.filter((path) => path.endsWith('.test.ts')),
            `${target}: tests`,
          ).toEqual([]);
          // No test folder of a library or service; under app/test only the simulator's sources.
          expect(
            app.filter(
              (path) =>
                /^app\/(libs|services)\/[^/]+\/test\//.test(path) ||
                (path.startsWith('app/test/') &&
                  !/^app\/test\/(simulator\/(src\/.*|package\.json)?)?$/.test(path)),
            ),
            `${target}: test code`,
          ).toEqual([]);
          const dev = ['vitest', 'typescript', 'eslint', 'testcontainers', 'playwright-core'];
          dev.push('prettier', '@testcontainers', '@fortellis-admin/test-support');
          // jose is the ingress's; for the simulator it is a dev dependency.
          if (target === 'simulator')
            dev.push('jose', 'mongodb', 'bullmq', 'ioredis', '@bull-board/api');
          for (const name of dev)
            expect(holds(`app/node_modules/${name}`), `${target}: ${name}`).toBe(false);
          expect(
            files.filter(
              (path) =>
                /(^|\/)(npm|npx|corepack|yarn)(\/|$)/.test(path) ||
                /^(usr\/)?s?bin\/(sh|bash|dash|apt|apt-get|dpkg)$/.test(path),
            ),
            `${target}: npm, shells, package managers`,
          ).toEqual([]);
        }
        console.log(`image sizes (${ctr.kind}):\n  ${lines.join('\n  ')}`);
      },
    );

    it(
      'the whole loop through the containers: accepted with auth, the timeline, deactivated with clean-up and report',
      { timeout: 300_000 },
      async () => {
        sim = await startSimulator();
        const ns = createTestNamespace('images');
        dbName = ns.dbName;
        const [port, monitoring, ops, approvalMonitoring, deprovisionMonitoring] =
          await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
        ingressUrl = `http://127.0.0.1:${port}`;
        opsUrl = `http://127.0.0.1:${ops}`;
        // .env as the compose file says to make it for the sim profile, pointed at this run's
        // simulator; the Redis and MongoDB URLs are this run's servers (no ACL users there).
        const dotenv: Env = {
          ...parseEnvFile(readFileSync(`${REPO_ROOT}deploy/compose/sim.env`, 'utf8')),
          ...sim.env(),
          PUBLIC_BASE_URL: ingressUrl,
          OPS_API_TOKENS: `images:viewer=${OPERATOR_TOKEN}`,
          QUEUE_PREFIX: ns.queuePrefix,
          MONGODB_DATABASE: ns.dbName,
          HOST: '127.0.0.1',
          OPS_HOST: '127.0.0.1',
          MONITORING_HOST: '127.0.0.1',
          LOG_LEVEL: 'info',
          CALLBACK_BACKOFF_BASE_MS: '200',
          RETRY_BACKOFF_BASE_MS: '200',
        };
        const servers = { REDIS_URL: inject('redisUrl'), MONGODB_URL: inject('mongoUrl') };
        const pinned: Record<ServiceTarget, Env> = {
          ingress: { ...servers, PORT: String(port), MONITORING_PORT: String(monitoring) },
          operations: { ...servers, OPS_PORT: String(ops) },
          'approval-worker': { ...servers, MONITORING_PORT: String(approvalMonitoring) },
          'deprovision-worker': { ...servers, MONITORING_PORT: String(deprovisionMonitoring) },
        };
        for (const service of SERVICES) {
          const env = composeEnv(service, dotenv, pinned[service]);
          // The ingress gets neither MongoDB nor operator tokens, as compose gives it.
          if (service === 'ingress') expect(Object.keys(env)).not.toContain('MONGODB_URL');
          const name = names.get(service)!;
          running.push(name);
          const limit = compose.services[service]?.mem_limit;
          await startHardenedContainer(ctr, {
            name,
            image: built.get(service)!.image,
            env,
            ...(limit === undefined ? {} : { memoryLimit: limit }),
          });
        }
        // The simulator's image, in a network of its own (its HEALTHCHECK asks 127.0.0.1:4010).
        const simName = names.get('simulator')!;
        running.push(simName);
        await startHardenedContainer(ctr, {
          name: simName,
          image: built.get('simulator')!.image,
          env: {},
          network: 'none',
        });

        // Each image's own HEALTHCHECK command passes once its service is up.
        for (const target of [...SERVICES, 'simulator' as const]) {
          const name = names.get(target)!;
          const healthcheck = await imageHealthcheck(ctr, built.get(target)!.image);
          expect(healthcheck, `${target} HEALTHCHECK`).toBeDefined();
          await until(
            `${target}'s HEALTHCHECK passes`,
            async () => (await containerExec(ctr, name, healthcheck!, 10_000)).code === 0,
            60_000,
          ).catch(async (error: unknown) => {
            throw new Error(`${String(error)}\n${(await containerLogs(ctr, name)).slice(-3000)}`);
          });
          const pid1 = await containerExec(ctr, name, [
            'node',
            '-e',
            "process.stdout.write(require('fs').readFileSync('/proc/1/cmdline','utf8').split('\\0').join(' ')+'|'+process.getuid())",
          ]);
          expect(pid1.stdout, `${target}: PID 1 and uid`).toMatch(
            /^\/usr\/bin\/tini -- node .*\|1000$/,
          );
        }
        const memory: string[] = [];
        for (const target of [...SERVICES, 'simulator' as const]) {
          const { usage, workingSet } = await containerMemory(ctr, names.get(target)!);
          memory.push(
            `${target}: ${usage === undefined ? '' : `usage ${mb(usage)}, `}working set ${mb(workingSet)}`,
          );
        }
        console.log(`idle cgroup memory:\n  ${memory.join('\n  ')}`);

        // An activation through the containerized ingress, with a token the simulator signs.
        const caller = new FortellisCaller({
          adminApiUrl: ingressUrl,
          token: () => sim.identity.mint(sim.providerClient.clientId),
          seed: 2323,
        });
        const activated = await caller.activate();
        expect(activated.status, JSON.stringify(activated.body)).toBe(200);
        const id = activated.connectionId;
        mongo = new MongoClient(inject('mongoUrl'));
        await mongo.connect();
        const connections = mongo.db(dbName).collection<ConnectionDocument>('connections');
        await until(
          'the connection is accepted',
          async () =>
            (await connections.countDocuments({ connectionId: id, state: 'accepted' })) === 1,
          60_000,
        );
        const callback = sim
          .calls('callback')
          .find((call) => call.params.connectionId === id && call.status === 200);
        const account = sim.backendAccounts().find((a) => a.connectionId === id);
        expect(account).toBeDefined();
        expect((callback?.body as { auth?: unknown } | undefined)?.auth).toEqual(
          account?.credentials,
        );

        // The operations service's timeline of that connection, read with an operator token.
        const timeline = await fetch(`${opsUrl}/ops/connections/${id}/timeline`, {
          headers: { authorization: `Bearer ${OPERATOR_TOKEN}` },
        });
        expect(timeline.status).toBe(200);
        const story = (await timeline.json()) as {
          state: string;
          events: Array<{ event: string }>;
        };
        expect(story.state).toBe('accepted');
        expect(story.events.map((event) => event.event)).toEqual(
          expect.arrayContaining(['activate_called', 'activation_received']),
        );

        // A deactivation: the backend account removed, the status reported.
        const deactivated = await caller.deactivate(id);
        await caller.close();
        expect(deactivated.status).toBe(200);
        await until(
          'the connection is deactivated, cleaned up and reported',
          async () =>
            (await connections.countDocuments({
              connectionId: id,
              state: 'deactivated',
              'steps.cleanup.status': 'done',
              'steps.deactivationReport.status': 'done',
            })) === 1,
          60_000,
        );
        expect(
          sim
            .calls('deprovision')
            .filter(
              (call) =>
                (call.body as { connectionId?: string }).connectionId === id && call.status === 200,
            ),
        ).toHaveLength(1);
        expect(
          sim.backendAccounts().find((a) => a.connectionId === id)?.deprovisionedAt,
        ).toBeDefined();
        expect(sim.calls('status').filter((call) => call.status === 204).length).toBeGreaterThan(0);
      },
    );

    it(
      "SIGTERM: each container drains and exits 0 within compose's grace period",
      { timeout: 300_000 },
      async () => {
        expect(running.length, 'the containers of the previous test').toBe(SERVICES.length + 1);
        const results = await Promise.all(
          [...SERVICES, 'simulator' as const].map(async (target) => {
            const grace = graceSeconds(target);
            const stopped = await stopContainer(ctr, names.get(target)!, grace);
            return { target, grace, ...stopped };
          }),
        );
        console.log(
          `stopped: ${results.map((r) => `${r.target} exit ${r.exitCode} in ${r.seconds.toFixed(1)} s (grace ${r.grace} s)`).join(', ')}`,
        );
        for (const result of results) {
          expect(result.exitCode, `${result.target} exit code`).toBe(0);
          expect(result.seconds, `${result.target} stop time`).toBeLessThan(result.grace);
        }
      },
    );
  },
);
