// docker-compose.yml brought up for real, as a provider would (`docker compose --profile sim up`):
// the shipped file plus the test's override (test/deploy/compose/override.yml: local stand-ins
// for redis:7 and mongo:8, which cannot be pulled here, and nothing else that changes how the
// services run), a .env made as the file's own comment says (deploy/compose/sim.env, operator
// token and the users' passwords), the images built from deploy/Dockerfile. Once healthy,
// `npm run demo` drives activations and deactivations through the composed stack from the host;
// then `down -v` must leave no container, volume or network of the project behind.
//
// The engine: a Docker engine when one answers (its `docker compose`), else podman through its
// Docker-compatible API (`podman system service` on a socket in a temporary folder, given to the
// compose CLI alone as DOCKER_HOST) and Docker Compose v5 built by `npm run infra:install`.
// Without systemd podman runs no HEALTHCHECK by itself: the test runs them (`podman healthcheck
// run`) while compose waits on them. Skipped only where there is no container engine at all
// (never on CI).
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  REPO_ROOT,
  ensureImages,
  engineCommand,
  findContainerEngine,
  findGoBinary,
  freePort,
  IMAGE_TARGETS,
  type ContainerEngine,
} from '@fortellis-admin/test-support';
import { ensureStandins } from './compose/standins.ts';

/** The images of this run: `fortellis-admin/<target>:compose-test` and the stand-ins. */
const COMPOSE_DIR = `${REPO_ROOT}test/deploy/compose/`;
/** The Redis and MongoDB users' passwords docker-compose.yml asks .env for. */
const PASSWORDS = [
  'REDIS_ADMIN',
  'REDIS_INGRESS',
  'REDIS_OPERATIONS',
  'REDIS_APPROVAL_WORKER',
  'REDIS_DEPROVISION_WORKER',
  'MONGO_ROOT',
  'MONGO_OPERATIONS',
  'MONGO_APPROVAL_WORKER',
  'MONGO_DEPROVISION_WORKER',
];
const SERVICES = ['redis', 'mongo', 'mongo-users', ...IMAGE_TARGETS];

const engine = await findContainerEngine();
const onCi = process.env.CI === 'true';

interface Run {
  code: number;
  output: string;
}

/** Runs a command to its end, its stdout and stderr together; never rejects. */
function run(
  command: string,
  args: readonly string[],
  options: { env: NodeJS.ProcessEnv; timeoutMs: number },
): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(command, args, {
      cwd: REPO_ROOT,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    const keep = (chunk: Buffer): void => {
      output = (output + chunk.toString('utf8')).slice(-64_000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      resolve({ code: 127, output: `${output}\n${String(error)}` });
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? 1, output });
    });
  });
}

/**
 * The compose CLI and the environment it runs with. Only what compose needs is passed: it reads
 * its process environment before .env when it fills in the file's ${VARIABLES}, and the test
 * process has its own (NODE_ENV=test, REDIS_URL, ...).
 */
interface Compose {
  command: string;
  prefix: string[];
  env: NodeJS.ProcessEnv;
}

function composeEnv(extra: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const name of ['PATH', 'HOME', 'TMPDIR', 'XDG_RUNTIME_DIR', 'DOCKER_CONFIG']) {
    if (process.env[name] !== undefined) env[name] = process.env[name];
  }
  return { ...env, ...extra };
}

async function findCompose(found: ContainerEngine, socket: string | undefined): Promise<Compose> {
  if (found.kind === 'docker') {
    const env = composeEnv({ DOCKER_HOST: process.env.DOCKER_HOST });
    const plugin = await run('docker', ['compose', 'version'], { env, timeoutMs: 15_000 });
    if (plugin.code === 0) return { command: 'docker', prefix: ['compose'], env };
  }
  const binary = findGoBinary('docker-compose');
  if (binary === undefined)
    throw new Error('no compose CLI: run `npm run infra:install` (it builds Docker Compose v5)');
  return {
    command: binary,
    prefix: [],
    env: composeEnv(
      socket === undefined
        ? { DOCKER_HOST: process.env.DOCKER_HOST }
        : { DOCKER_HOST: `unix://${socket}` },
    ),
  };
}

describe.skipIf(engine === undefined && !onCi)('docker-compose.yml, composed for real', () => {
  let workDir: string;
  let project: string;
  let imageTag = 'local';
  let standinTag = 'local';
  let compose: Compose;
  let api: ReturnType<typeof spawn> | undefined;
  let healthRunner: Promise<void> | undefined;
  let stopHealthRunner = false;
  let up = false;
  const ports = { ingress: 0, ops: 0, sim: 0 };
  let opsToken: string;

  const composeArgs = (): string[] => [
    ...compose.prefix,
    '--file',
    'docker-compose.yml',
    '--file',
    `${COMPOSE_DIR}override.yml`,
    '--env-file',
    join(workDir, '.env'),
    '--project-name',
    project,
    '--profile',
    'sim',
  ];
  const runCompose = (args: readonly string[], timeoutMs = 300_000): Promise<Run> =>
    run(compose.command, [...composeArgs(), ...args], { env: compose.env, timeoutMs });

  /** Every container, volume and network of the project that the engine still has. */
  async function leftovers(): Promise<string[]> {
    const label = `label=com.docker.compose.project=${project}`;
    const list = async (args: string[]): Promise<string[]> =>
      (await engineCommand(engine!, args)).stdout.split('\n').filter((line) => line !== '');
    const containers = await list(['ps', '--all', '--filter', label, '--format', '{{.Names}}']);
    const volumes = (await list(['volume', 'ls', '--format', '{{.Name}}'])).filter((name) =>
      name.startsWith(`${project}_`),
    );
    const networks = (await list(['network', 'ls', '--format', '{{.Name}}'])).filter((name) =>
      name.startsWith(`${project}_`),
    );
    return [
      ...containers.map((name) => `container ${name}`),
      ...volumes.map((name) => `volume ${name}`),
      ...networks.map((name) => `network ${name}`),
    ];
  }

  /**
   * podman without systemd never runs a HEALTHCHECK on its own, and compose's `depends_on:
   * condition: service_healthy` and `--wait` read the health podman reports: run each running
   * container's check as a Docker engine would, every `interval`, and every 2 s during its
   * `start_period` (Docker's start interval), when failures do not count.
   */
  async function runHealthchecks(): Promise<void> {
    const schedule = new Map<
      string,
      { seen: number; interval: number; start: number; next: number } | null
    >();
    while (!stopHealthRunner) {
      const { stdout } = await engineCommand(
        engine!,
        ['ps', '--filter', `label=com.docker.compose.project=${project}`, '--format', '{{.ID}}'],
        { allowFailure: true },
      );
      const now = Date.now();
      const due: string[] = [];
      for (const id of stdout.split('\n').filter((line) => line !== '')) {
        if (!schedule.has(id)) {
          const inspected = await engineCommand(
            engine!,
            ['inspect', '--format', '{{json .Config.Healthcheck}}', id],
            { allowFailure: true },
          );
          const check = JSON.parse(inspected.stdout.trim() || 'null') as {
            Interval?: number;
            StartPeriod?: number;
          } | null;
          // Durations in nanoseconds; Docker's defaults when unset (30 s, no start period).
          schedule.set(
            id,
            check === null
              ? null
              : {
                  seen: now,
                  interval: (check.Interval ?? 0) / 1e6 || 30_000,
                  start: (check.StartPeriod ?? 0) / 1e6,
                  next: now + 2000,
                },
          );
        }
        const entry = schedule.get(id);
        if (entry != null && now >= entry.next) {
          entry.next = now + (now - entry.seen < entry.start ? 2000 : entry.interval);
          due.push(id);
        }
      }
      await Promise.all(
        due.map((id) =>
          engineCommand(engine!, ['healthcheck', 'run', id], {
            allowFailure: true,
            timeoutMs: 20_000,
          }).catch(() => undefined),
        ),
      );
      await delay(1000);
    }
  }

  beforeAll(async () => {
    if (engine === undefined) throw new Error('no container engine (Docker or podman) on CI');
    workDir = mkdtempSync(join(tmpdir(), 'compose-test-'));
    project = `fa-compose-test-${process.pid}`;

    // The images: the services' and the simulator's from deploy/Dockerfile, and the stand-ins.
    const started = performance.now();
    // The images of this tree, shared with the image and `kube play` tests (built once).
    const built = await ensureImages(engine);
    const standins = await ensureStandins(engine);
    imageTag = built[0]!.image.split(':').at(-1)!;
    standinTag = standins.tag;
    process.stdout.write(
      `compose test: images ready in ${((performance.now() - started) / 1000).toFixed(0)} s (${built.map((b) => `${b.target} ${b.seconds === 0 ? 'found' : `${b.seconds.toFixed(0)} s`}`).join(', ')})\n`,
    );

    let socket: string | undefined;
    if (engine.kind === 'podman') {
      socket = join(workDir, 'podman.sock');
      api = spawn('podman', ['system', 'service', '--time=0', `unix://${socket}`], {
        env: engine.env,
        stdio: 'ignore',
      });
      for (let waited = 0; !existsSync(socket); waited += 100) {
        if (waited > 30_000) throw new Error(`podman system service made no socket at ${socket}`);
        await delay(100);
      }
      healthRunner = runHealthchecks();
    }
    compose = await findCompose(engine, socket);

    // .env as docker-compose.yml says: sim.env, an operator token, the users' passwords; host
    // ports of this run's own (free ones), and the images of this run.
    ports.ingress = await freePort();
    ports.ops = await freePort();
    ports.sim = await freePort();
    opsToken = randomBytes(24).toString('hex');
    const lines = [
      readFileSync(`${REPO_ROOT}deploy/compose/sim.env`, 'utf8'),
      `OPS_API_TOKENS=demo:admin=${opsToken}`,
      ...PASSWORDS.map((name) => `${name}_PASSWORD=${randomBytes(24).toString('hex')}`),
      `IMAGE_TAG=${imageTag}`,
      `STANDIN_TAG=${standinTag}`,
      `INGRESS_HOST_PORT=${ports.ingress}`,
      `OPS_HOST_PORT=${ports.ops}`,
      `SIM_HOST_PORT=${ports.sim}`,
      `PUBLIC_BASE_URL=http://localhost:${ports.ingress}`,
    ];
    writeFileSync(join(workDir, '.env'), `${lines.join('\n')}\n`, { mode: 0o600 });
  }, 1_200_000);

  afterAll(async () => {
    if (up) await runCompose(['down', '--volumes', '--remove-orphans', '--timeout', '45']);
    stopHealthRunner = true;
    await healthRunner;
    api?.kill('SIGTERM');
    if (workDir !== undefined) rmSync(workDir, { recursive: true, force: true });
  }, 180_000);

  it('comes up healthy, runs the demo end to end, and `down -v` leaves nothing behind', async () => {
    const upStarted = performance.now();
    up = true;
    const result = await runCompose(
      ['up', '--detach', '--no-build', '--pull', 'never', '--wait', '--wait-timeout', '240'],
      300_000,
    );
    const upSeconds = (performance.now() - upStarted) / 1000;
    if (result.code !== 0) {
      const logs = await runCompose(['logs', '--no-color', '--tail', '40'], 60_000);
      throw new Error(`compose up failed:\n${result.output}\n--- logs ---\n${logs.output}`);
    }
    const ps = await runCompose(['ps', '--all', '--format', '{{.Service}} {{.State}} {{.Health}}']);
    process.stdout.write(`compose test: up in ${upSeconds.toFixed(0)} s\n${ps.output}`);
    for (const service of SERVICES) expect(ps.output).toContain(service);
    // The networks as shipped: Redis and MongoDB on `data`, which is internal (no route out).
    const data = await engineCommand(engine!, [
      'network',
      'inspect',
      '--format',
      '{{.Internal}}',
      `${project}_data`,
    ]);
    expect(data.stdout.trim()).toBe('true');

    // The demo, from the host, through the published ports.
    const stackFile = join(workDir, 'stack.json');
    writeFileSync(
      stackFile,
      JSON.stringify({
        ingressUrl: `http://127.0.0.1:${ports.ingress}`,
        opsUrl: `http://127.0.0.1:${ports.ops}`,
        opsToken,
        simUrl: `http://127.0.0.1:${ports.sim}`,
      }),
    );
    const demoStarted = performance.now();
    const demo = await run(process.execPath, ['scripts/demo.ts'], {
      env: { ...process.env, DEV_STACK_FILE: stackFile },
      timeoutMs: 180_000,
    });
    process.stdout.write(
      `compose test: demo in ${((performance.now() - demoStarted) / 1000).toFixed(0)} s\n${demo.output}`,
    );
    if (demo.code !== 0) {
      const logs = await runCompose(['logs', '--no-color', '--tail', '40'], 60_000);
      throw new Error(`npm run demo failed:\n${demo.output}\n--- logs ---\n${logs.output}`);
    }
    // Every activation acknowledged, accepted and told so (callback `accepted`); the first two
    // deactivated, with both deprovision steps (backend clean-up, status report) ended.
    const ids = [...demo.output.matchAll(/POST \/activate (\S+) → 200/g)].map((m) => m[1]!);
    expect(ids).toHaveLength(5);
    const rows = new Map(
      demo.output
        .split('\n')
        .map((line) => line.trim().split(/\s{2,}/))
        .map((cells) => [cells[0]!, cells] as const),
    );
    ids.forEach((id, index) => {
      const [, , state, callback, steps] = rows.get(id) ?? [];
      expect({ id, state, callback }).toEqual({
        id,
        state: index < 2 ? 'deactivated' : 'accepted',
        callback: 'accepted',
      });
      if (index < 2)
        expect(steps).toMatch(
          /cleanup:(?!running)\w+.*deactivationReport:(?!running)\w+|deactivationReport:(?!running)\w+.*cleanup:(?!running)\w+/,
        );
    });

    const downStarted = performance.now();
    const down = await runCompose(
      ['down', '--volumes', '--remove-orphans', '--timeout', '45'],
      180_000,
    );
    process.stdout.write(
      `compose test: down in ${((performance.now() - downStarted) / 1000).toFixed(0)} s\n`,
    );
    expect(down.code, down.output).toBe(0);
    up = false;
    expect(await leftovers()).toEqual([]);
  }, 600_000);
});
