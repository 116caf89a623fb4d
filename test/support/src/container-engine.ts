// Builds and runs this project's images (deploy/Dockerfile) with the container engine found here:
// a Docker engine when one answers, else podman with the project's containers.conf and, where the
// real node:24-slim is absent, the local stand-in base that `npm run infra:install` makes
// (scripts/install-container-engine.sh).
import { execFile, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import { setTimeout as delay } from 'node:timers/promises';
import { REPO_ROOT } from './service-processes.ts';

/** podman's settings for this host (no systemd, cgroup v1, runc): passed as CONTAINERS_CONF. */
export const PODMAN_CONTAINERS_CONF = `${REPO_ROOT}deploy/podman/containers.conf`;
/** The real base image, as deploy/Dockerfile's NODE_IMAGE default names it. */
export const REAL_BASE_IMAGE = 'node:24-slim';
/** The stand-in for node:24-slim made by scripts/install-container-engine.sh (same name there). */
export const STANDIN_BASE_IMAGE = 'localhost/fortellis-admin/node-standin:24-slim';
/** Every target of deploy/Dockerfile that is an image of its own. */
export const IMAGE_TARGETS = [
  'ingress',
  'operations',
  'approval-worker',
  'deprovision-worker',
  'simulator',
] as const;
export type ImageTarget = (typeof IMAGE_TARGETS)[number];

export interface ContainerEngine {
  readonly kind: 'docker' | 'podman';
  /** The environment the engine's CLI runs with (podman: CONTAINERS_CONF). */
  readonly env: NodeJS.ProcessEnv;
  /** NODE_IMAGE for the build: node:24-slim, or the local stand-in; undefined when neither is there. */
  readonly baseImage: string | undefined;
}

export interface CommandResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the engine's CLI; rejects with its output when it fails, unless `allowFailure`. */
export function engineCommand(
  engine: Pick<ContainerEngine, 'kind' | 'env'>,
  args: readonly string[],
  options: { timeoutMs?: number; allowFailure?: boolean } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    execFile(
      engine.kind,
      args,
      {
        env: engine.env,
        cwd: REPO_ROOT,
        timeout: options.timeoutMs ?? 120_000,
        maxBuffer: 64 * 1024 * 1024,
        encoding: 'utf8',
      },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : 1;
        if (code !== 0 && options.allowFailure !== true) {
          reject(
            new Error(
              `${engine.kind} ${args.slice(0, 3).join(' ')} failed (${error?.message.split('\n')[0]}):\n${stderr.slice(-4000)}`,
            ),
          );
        } else resolve({ code, stdout, stderr });
      },
    );
  });
}

/**
 * The engine to build and run the images with: Docker when its engine answers, else podman (with
 * the project's containers.conf); undefined when there is neither.
 */
export async function findContainerEngine(
  env: NodeJS.ProcessEnv = process.env,
): Promise<ContainerEngine | undefined> {
  const docker = { kind: 'docker', env } as const;
  const answers = await engineCommand(docker, ['version', '--format', '{{.Server.Version}}'], {
    timeoutMs: 15_000,
    allowFailure: true,
  }).catch(() => ({ code: 1 }));
  if (answers.code === 0) return { ...docker, baseImage: REAL_BASE_IMAGE };
  const podman = {
    kind: 'podman',
    env: { ...env, CONTAINERS_CONF: PODMAN_CONTAINERS_CONF },
  } as const;
  const present = await engineCommand(podman, ['--version'], { allowFailure: true }).catch(() => ({
    code: 1,
  }));
  if (present.code !== 0) return undefined;
  for (const image of [`docker.io/library/${REAL_BASE_IMAGE}`, STANDIN_BASE_IMAGE]) {
    const exists = await engineCommand(podman, ['image', 'exists', image], { allowFailure: true });
    if (exists.code === 0) return { ...podman, baseImage: image };
  }
  return { ...podman, baseImage: undefined };
}

/** The image name compose gives a target (`fortellis-admin/<target>:<tag>`, IMAGE_TAG=local). */
export function imageName(target: ImageTarget, tag = 'local'): string {
  return `fortellis-admin/${target}:${tag}`;
}

export interface BuiltImage {
  target: ImageTarget;
  image: string;
  /** Wall-clock seconds of the build (layers shared with earlier builds come from the cache). */
  seconds: number;
}

/**
 * Builds one target of deploy/Dockerfile as compose would (context: the repository root), tagged
 * `imageName(target, tag)`. The CA bundle (default: NODE_EXTRA_CA_CERTS, as behind an
 * intercepting TLS proxy) goes to `npm ci` as the build secret `ca`; without one, none is passed.
 */
export async function buildImage(
  engine: ContainerEngine,
  target: ImageTarget,
  options: { tag?: string; caBundle?: string; timeoutMs?: number } = {},
): Promise<BuiltImage> {
  if (engine.baseImage === undefined)
    throw new Error(
      `no base image for ${engine.kind}: neither ${REAL_BASE_IMAGE} nor the stand-in ${STANDIN_BASE_IMAGE} is present; run \`npm run infra:install\``,
    );
  const image = imageName(target, options.tag);
  const caBundle = options.caBundle ?? process.env.NODE_EXTRA_CA_CERTS;
  const args = ['build', '-f', 'deploy/Dockerfile', '--target', target, '-t', image];
  args.push('--build-arg', `NODE_IMAGE=${engine.baseImage}`);
  // podman's default (OCI) image format has no HEALTHCHECK.
  if (engine.kind === 'podman') args.push('--format', 'docker');
  if (caBundle !== undefined && caBundle !== '' && existsSync(caBundle))
    args.push('--secret', `id=ca,src=${caBundle}`);
  const started = performance.now();
  await engineCommand(engine, [...args, '.'], { timeoutMs: options.timeoutMs ?? 600_000 });
  return { target, image, seconds: (performance.now() - started) / 1000 };
}

/**
 * Builds the targets: the first alone (it makes the layers they all share), then the others
 * `concurrency` at a time (default 1: one after the other). Results in the order of `targets`.
 */
export async function buildImages(
  engine: ContainerEngine,
  options: {
    targets?: readonly ImageTarget[];
    tag?: string;
    caBundle?: string;
    concurrency?: number;
  } = {},
): Promise<BuiltImage[]> {
  const [first, ...rest] = options.targets ?? IMAGE_TARGETS;
  if (first === undefined) return [];
  const built = [await buildImage(engine, first, options)];
  const queue = [...rest];
  const workers = Array.from({ length: Math.max(1, options.concurrency ?? 1) }, async () => {
    for (let target = queue.shift(); target !== undefined; target = queue.shift())
      built.push(await buildImage(engine, target, options));
  });
  await Promise.all(workers);
  const order = [first, ...rest];
  return built.sort((a, b) => order.indexOf(a.target) - order.indexOf(b.target));
}

/**
 * A tag naming the build's inputs: a hash of every file of the repository that git sees (tracked
 * or not, ignored ones left out), their contents included, and of the base image. Images built
 * from the same tree carry the same tag, so the tests that need them build them once per tree.
 */
export function contextTag(engine: ContainerEngine, extra: readonly string[] = []): string {
  const files = execFileSync(
    'git',
    ['ls-files', '-z', '--cached', '--others', '--exclude-standard'],
    { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  )
    .split('\0')
    .filter((file) => file !== '' && existsSync(join(REPO_ROOT, file)))
    .sort();
  const hash = createHash('sha256').update(`${engine.kind}\0${engine.baseImage ?? ''}\0`);
  for (const file of files) hash.update(`${file}\0`).update(readFileSync(join(REPO_ROOT, file)));
  for (const item of extra) hash.update(`\0${item}`);
  return `ctx-${hash.digest('hex').slice(0, 16)}`;
}

/**
 * Runs `work` holding a lock that other processes (vitest's forks) take by the same name: one
 * builds while the others wait, then finds the images made. A holder that died leaves its lock
 * behind; it is taken over once its process is gone.
 */
export async function withBuildLock<T>(name: string, work: () => Promise<T>): Promise<T> {
  const lock = join(tmpdir(), `fortellis-admin-build-${name}.lock`);
  for (let waited = 0; ; waited += 500) {
    try {
      await mkdir(lock);
      await writeFile(join(lock, 'pid'), String(process.pid));
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = Number(await readFile(join(lock, 'pid'), 'utf8').catch(() => 'NaN'));
      if (Number.isInteger(holder) && !alive(holder))
        await rm(lock, { recursive: true, force: true });
      else if (waited > 1_800_000)
        throw new Error(`still waiting for ${lock} after 30 minutes`, { cause: error });
      else await delay(500);
    }
  }
  try {
    return await work();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether the engine holds the image. */
export async function imageExists(engine: ContainerEngine, image: string): Promise<boolean> {
  const args = engine.kind === 'podman' ? ['image', 'exists', image] : ['image', 'inspect', image];
  return (await engineCommand(engine, args, { allowFailure: true })).code === 0;
}

/**
 * The images of this tree (tagged {@link contextTag}), built where absent: the image test, the
 * compose test and the `podman kube play` test share one build per tree and per machine. Earlier
 * trees' images (other `ctx-` tags) are removed once the new ones are there. `seconds` is 0 for
 * an image that was found.
 */
export async function ensureImages(
  engine: ContainerEngine,
  options: { targets?: readonly ImageTarget[]; concurrency?: number } = {},
): Promise<BuiltImage[]> {
  const tag = contextTag(engine);
  return withBuildLock('images', async () => {
    const targets = options.targets ?? IMAGE_TARGETS;
    const found: BuiltImage[] = [];
    const missing: ImageTarget[] = [];
    for (const target of targets) {
      if (await imageExists(engine, imageName(target, tag)))
        found.push({ target, image: imageName(target, tag), seconds: 0 });
      else missing.push(target);
    }
    const built = await buildImages(engine, {
      targets: missing,
      tag,
      ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
    });
    if (missing.length > 0) await removeOtherContextImages(engine, tag);
    return [...found, ...built].sort(
      (a, b) => targets.indexOf(a.target) - targets.indexOf(b.target),
    );
  });
}

async function removeOtherContextImages(engine: ContainerEngine, tag: string): Promise<void> {
  const { stdout } = await engineCommand(
    engine,
    ['images', '--format', '{{.Repository}}:{{.Tag}}'],
    { allowFailure: true },
  );
  const stale = stdout
    .split('\n')
    .map((line) => line.trim())
    .filter((ref) => /(^|\/)fortellis-admin\/[a-z-]+:ctx-[0-9a-f]+$/.test(ref))
    .filter((ref) => !ref.endsWith(`:${tag}`));
  // An image a running container uses stays (rmi without --force refuses it).
  if (stale.length > 0) await engineCommand(engine, ['rmi', ...stale], { allowFailure: true });
}

/** An image's size in bytes, as the engine reports it (uncompressed, all layers). */
export async function imageSize(engine: ContainerEngine, image: string): Promise<number> {
  const { stdout } = await engineCommand(engine, [
    'image',
    'inspect',
    '--format',
    '{{.Size}}',
    image,
  ]);
  return Number(stdout.trim());
}

/** Removes images (missing ones are not an error). */
export async function removeImages(
  engine: ContainerEngine,
  images: readonly string[],
): Promise<void> {
  if (images.length > 0)
    await engineCommand(engine, ['rmi', '--force', ...images], { allowFailure: true });
}

/** The image's HEALTHCHECK as an exec-form command (`CMD` dropped), or undefined when it has none. */
export async function imageHealthcheck(
  engine: ContainerEngine,
  image: string,
): Promise<string[] | undefined> {
  const { stdout } = await engineCommand(engine, [
    'image',
    'inspect',
    '--format',
    '{{json .Config.Healthcheck}}',
    image,
  ]);
  const parsed = JSON.parse(stdout.trim() || 'null') as { Test?: string[] } | null;
  const test = parsed?.Test;
  if (test === undefined || test[0] !== 'CMD') return undefined;
  return test.slice(1);
}

/** Every path in the image's file system (`usr/local/bin/node`; folders end with `/`). */
export async function listImageFiles(engine: ContainerEngine, image: string): Promise<string[]> {
  const { stdout } = await engineCommand(engine, ['create', image]);
  const id = stdout.trim().split('\n').at(-1)!;
  const dir = await mkdtemp(join(tmpdir(), 'image-files-'));
  try {
    await engineCommand(engine, ['export', '--output', join(dir, 'fs.tar'), id]);
    const listing = await new Promise<string>((resolve, reject) => {
      execFile(
        'tar',
        ['-tf', join(dir, 'fs.tar')],
        { maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' },
        (error, out, err) => (error === null ? resolve(out) : reject(new Error(`tar: ${err}`))),
      );
    });
    return listing
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => line.replace(/^\.?\//, ''));
  } finally {
    await rm(dir, { recursive: true, force: true });
    await engineCommand(engine, ['rm', '--force', id], { allowFailure: true });
  }
}

/** A service container, run as docker-compose.yml runs its services (the `x-service` settings). */
export interface HardenedContainer {
  name: string;
  image: string;
  env: Record<string, string>;
  /** Arguments after the image (the image's CMD when absent). */
  command?: readonly string[];
  /** The container's network; default `host`. */
  network?: string;
  /** compose's `mem_limit` (`256m`): the cgroup's memory limit. */
  memoryLimit?: string;
}

/**
 * Starts a container detached as compose runs the services: read-only root, a /tmp tmpfs, all
 * capabilities dropped, no-new-privileges, the image's own user; on the host's network, so that
 * it reaches the test's servers on 127.0.0.1 (compose's networks are not what is tested here).
 */
export async function startHardenedContainer(
  engine: ContainerEngine,
  spec: HardenedContainer,
): Promise<void> {
  const network = spec.network ?? 'host';
  const args = ['run', '--detach', '--name', spec.name, '--network', network, '--read-only'];
  args.push('--tmpfs', '/tmp', '--cap-drop', 'ALL', '--security-opt', 'no-new-privileges');
  for (const [name, value] of Object.entries(spec.env)) args.push('--env', `${name}=${value}`);
  if (spec.memoryLimit !== undefined) args.push('--memory', spec.memoryLimit);
  await engineCommand(engine, [...args, spec.image, ...(spec.command ?? [])]);
}

/** Runs a command in a running container (no shell: an exec-form argument list). */
export function containerExec(
  engine: ContainerEngine,
  name: string,
  command: readonly string[],
  timeoutMs = 30_000,
): Promise<CommandResult> {
  return engineCommand(engine, ['exec', name, ...command], { timeoutMs, allowFailure: true });
}

/** stdout and stderr of a container so far. */
export async function containerLogs(engine: ContainerEngine, name: string): Promise<string> {
  const { stdout, stderr } = await engineCommand(engine, ['logs', name], { allowFailure: true });
  return stdout + stderr;
}

/**
 * Stops a container as compose does (SIGTERM, SIGKILL after `graceSeconds`) and returns its exit
 * code and how long it took to exit.
 */
export async function stopContainer(
  engine: ContainerEngine,
  name: string,
  graceSeconds: number,
): Promise<{ exitCode: number; seconds: number }> {
  const started = performance.now();
  await engineCommand(engine, ['stop', '--time', String(graceSeconds), name], {
    timeoutMs: (graceSeconds + 30) * 1000,
  });
  const seconds = (performance.now() - started) / 1000;
  const { stdout } = await engineCommand(engine, [
    'inspect',
    '--format',
    '{{.State.ExitCode}}',
    name,
  ]);
  return { exitCode: Number(stdout.trim()), seconds };
}

/** Removes containers, running or not (missing ones are not an error). */
export async function removeContainers(
  engine: ContainerEngine,
  names: readonly string[],
): Promise<void> {
  if (names.length > 0)
    await engineCommand(engine, ['rm', '--force', ...names], { allowFailure: true });
}

/**
 * A running container's memory as its cgroup counts it (what a memory limit applies to), in
 * bytes: `usage` (cgroup v1 memory.usage_in_bytes, page cache included) and `workingSet` (usage
 * less inactive file pages: what `docker stats` and `kubectl top` show). podman's cgroup files
 * are read from the host; for Docker, `docker stats` gives the working set only.
 */
export async function containerMemory(
  engine: ContainerEngine,
  name: string,
): Promise<{ usage?: number; workingSet: number }> {
  if (engine.kind === 'podman') {
    const { stdout } = await engineCommand(engine, [
      'inspect',
      '--format',
      '{{.State.CgroupPath}}',
      name,
    ]);
    const dir = `/sys/fs/cgroup/memory${stdout.trim()}`;
    const usage = Number(
      (await readFile(`${dir}/memory.usage_in_bytes`, 'utf8').catch(() => '')).trim(),
    );
    if (Number.isFinite(usage) && usage > 0) {
      const stat = await readFile(`${dir}/memory.stat`, 'utf8');
      const inactive = Number(/^total_inactive_file (\d+)$/m.exec(stat)?.[1] ?? 0);
      return { usage, workingSet: usage - inactive };
    }
  }
  const { stdout } = await engineCommand(engine, [
    'stats',
    '--no-stream',
    '--format',
    '{{.MemUsage}}',
    name,
  ]);
  return { workingSet: parseByteSize(stdout.split('/')[0] ?? '') };
}

/** `123.4MiB`, `98.2MB`, `1.2GB` as bytes. */
function parseByteSize(text: string): number {
  const match = /([\d.]+)\s*([kKMGT]?i?B)/.exec(text);
  if (match === null) return Number.NaN;
  const units: Record<string, number> = { B: 1, kB: 1e3, KB: 1e3, MB: 1e6, GB: 1e9, TB: 1e12 };
  const binary: Record<string, number> = { KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40 };
  return Number(match[1]) * (units[match[2]!] ?? binary[match[2]!] ?? Number.NaN);
}
