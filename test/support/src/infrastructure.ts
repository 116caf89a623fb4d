// The one infrastructure resolver of the project: finds or starts real Redis and a real
// MongoDB-wire server for tests and for the local run of the whole system.
//
// Order: (1) REDIS_URL / MONGODB_URL when set; (2) testcontainers (redis:7, mongo:8) when a Docker
// engine answers; (3) local binaries: redis-server, and FerretDB v1.24.2 on the local PostgreSQL
// when one answers (LOCAL_POSTGRESQL_URL, default postgres://postgres@127.0.0.1:5432/postgres),
// else on SQLite (FERRETDB_BACKEND=sqlite|postgresql forces one); (4) otherwise an error naming
// the command that installs what is missing.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startProcess, waitForPort, type ManagedProcess } from './processes.ts';

/** A running (or externally provided) server and how to reach it. */
export interface Endpoint {
  readonly url: string;
  /** Where it came from: the environment, a container, or a local binary started here. */
  readonly source: 'env' | 'container' | 'local';
  /** What runs behind a local MongoDB-wire server: `ferretdb/postgresql` or `ferretdb/sqlite`. */
  readonly backend?: string;
  /** Stops what this resolver started; a no-op for servers given by the environment. */
  stop(): Promise<void>;
}

/** The command that installs the local binaries (redis-server, FerretDB). */
export const INSTALL_COMMAND = 'npm run infra:install';

/** The FerretDB release the project runs against when no MongoDB is given. */
export const FERRETDB_VERSION = 'v1.24.2';

const noop = async (): Promise<void> => {};

/** Resolves a Redis server, in the order described at the top of this file. */
export async function resolveRedis(env: NodeJS.ProcessEnv = process.env): Promise<Endpoint> {
  const given = env.REDIS_URL?.trim();
  if (given) return { url: given, source: 'env', stop: noop };
  if (await dockerAvailable()) {
    const { RedisContainer } = await import('@testcontainers/redis');
    const container = await new RedisContainer('redis:7').start();
    return {
      url: container.getConnectionUrl(),
      source: 'container',
      stop: async () => void (await container.stop()),
    };
  }
  return startLocalRedis();
}

/** Resolves a MongoDB-wire server, in the order described at the top of this file. */
export async function resolveMongo(env: NodeJS.ProcessEnv = process.env): Promise<Endpoint> {
  const given = env.MONGODB_URL?.trim();
  if (given) return { url: given, source: 'env', stop: noop };
  if (await dockerAvailable()) {
    const { MongoDBContainer } = await import('@testcontainers/mongodb');
    const container = await new MongoDBContainer('mongo:8').start();
    return {
      url: container.getConnectionString(),
      source: 'container',
      stop: async () => void (await container.stop()),
    };
  }
  const backend = env.FERRETDB_BACKEND?.trim() || 'auto';
  const postgres = env.LOCAL_POSTGRESQL_URL?.trim() || DEFAULT_POSTGRESQL_URL;
  if (backend === 'postgresql' || (backend === 'auto' && postgresAnswers(postgres)))
    return startLocalFerretDbOnPostgres(postgres);
  return { ...(await startLocalFerretDb()), backend: 'ferretdb/sqlite' };
}

/** Where the local PostgreSQL is looked for (trust auth, as the development machine has it). */
export const DEFAULT_POSTGRESQL_URL = 'postgres://postgres@127.0.0.1:5432/postgres';

function psql(url: string, sql: string, timeoutMs = 10_000): string {
  return execFileSync('psql', [url, '-v', 'ON_ERROR_STOP=1', '-At', '-c', sql], {
    encoding: 'utf8',
    timeout: timeoutMs,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

/** True when `psql` is installed and the server at `url` answers within 3 s. */
export function postgresAnswers(url: string): boolean {
  try {
    return psql(url, 'select 1', 3000).trim() === '1';
  } catch {
    return false;
  }
}

/**
 * Starts a private FerretDB on the PostgreSQL at `adminUrl`: a new database (dropped on stop) with
 * the look-up indexes of sql/ferretdb-lookup-indexes.sql and per-statement plans, so a look-up by
 * `_id` or `subscriptionId` costs the same at 1,000 and at 20,000 stored connections. Without
 * `lookupIndexes` (for the store benchmark's baseline) FerretDB's own indexes only.
 */
export async function startLocalFerretDbOnPostgres(
  adminUrl: string,
  options: { lookupIndexes?: boolean } = {},
): Promise<Endpoint> {
  const binary = findFerretDb();
  if (binary === undefined) throw missing('ferretdb');
  const database = `ferretdb_${process.pid}_${Date.now().toString(36)}`;
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  psql(adminUrl, `CREATE DATABASE ${database}`);
  const drop = async (): Promise<void> => {
    try {
      psql(adminUrl, `DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
    } catch {
      // Best effort: a database left behind holds only test data.
    }
  };
  try {
    if (options.lookupIndexes !== false) {
      psql(url.href, readFileSync(LOOKUP_INDEXES_SQL, 'utf8'));
      psql(url.href, `ALTER DATABASE ${database} SET plan_cache_mode = force_custom_plan`);
    }
    const endpoint = await inTemporaryFolder('ferretdb-pg-', (stateDir) =>
      startListening(
        'ferretdb',
        async (port) =>
          startProcess(binary, ferretDbPostgresArgs(port, url.href, stateDir), {
            env: ferretDbEnv(),
          }),
        (port) => `mongodb://127.0.0.1:${port}/`,
      ),
    );
    return {
      ...endpoint,
      backend: 'ferretdb/postgresql',
      stop: async () => {
        await endpoint.stop();
        await drop();
      },
    };
  } catch (error) {
    await drop();
    throw error;
  }
}

const LOOKUP_INDEXES_SQL = fileURLToPath(
  new URL('../sql/ferretdb-lookup-indexes.sql', import.meta.url),
);

/** FerretDB's arguments on PostgreSQL: loopback only, no telemetry, no debug listener. */
export function ferretDbPostgresArgs(
  port: number,
  postgresUrl: string,
  stateDir: string,
): string[] {
  return [
    '--handler=postgresql',
    `--postgresql-url=${postgresUrl}`,
    `--state-dir=${stateDir}`,
    `--listen-addr=127.0.0.1:${port}`,
    '--debug-addr=-',
    '--telemetry=disable',
    '--log-level=warn',
    '--log-format=json',
  ];
}

/**
 * Starts a private `redis-server` on a free loopback port, configured as the ingress requires of
 * any Redis it acknowledges on: every write appended to an AOF and fsynced before Redis answers
 * (`appendfsync always`), data in a temporary folder removed at stop. Always a new one, so a test
 * may stop it to see how the system behaves without Redis.
 */
export async function startLocalRedis(options: { durable?: boolean } = {}): Promise<Endpoint> {
  const binary = findBinary('redis-server');
  if (binary === undefined) throw missing('redis-server');
  return inTemporaryFolder('redis-', (dataDir) =>
    startListening(
      'redis-server',
      async (port) => startProcess(binary, redisServerArgs(port, dataDir, options.durable ?? true)),
      (port) => `redis://127.0.0.1:${port}`,
    ),
  );
}

/**
 * The arguments of a local `redis-server`: loopback only, never evicting, and (unless `durable` is
 * false, for measuring what durability costs) an AOF fsynced on every write.
 */
export function redisServerArgs(port: number, dataDir: string, durable = true): string[] {
  return [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--dir',
    dataDir,
    '--save',
    '',
    '--appendonly',
    durable ? 'yes' : 'no',
    // Redis fsyncs the AOF before it answers: an acknowledged job survives kill -9.
    '--appendfsync',
    'always',
    '--protected-mode',
    'yes',
    // BullMQ requires that Redis never evicts its keys.
    '--maxmemory-policy',
    'noeviction',
  ];
}

/**
 * Starts a private FerretDB (SQLite backend, data in a temporary folder) on a free loopback port.
 * Telemetry is disabled twice over (flag and DO_NOT_TRACK) so it never tries to reach a host.
 */
export async function startLocalFerretDb(): Promise<Endpoint> {
  const binary = findFerretDb();
  if (binary === undefined) throw missing('ferretdb');
  return inTemporaryFolder('ferretdb-', (dataDir) =>
    startListening(
      'ferretdb',
      async (port) => startProcess(binary, ferretDbArgs(port, dataDir), { env: ferretDbEnv() }),
      (port) => `mongodb://127.0.0.1:${port}/`,
    ),
  );
}

/** FerretDB's arguments: SQLite in `dataDir`, loopback only, no telemetry, no debug listener. */
export function ferretDbArgs(port: number, dataDir: string): string[] {
  return [
    '--handler=sqlite',
    `--sqlite-url=file:${dataDir}/`,
    `--state-dir=${dataDir}`,
    `--listen-addr=127.0.0.1:${port}`,
    '--debug-addr=-',
    '--telemetry=disable',
    '--log-level=warn',
    '--log-format=json',
  ];
}

/** FerretDB's environment: telemetry off a second time, so it never tries to reach a host. */
export function ferretDbEnv(): NodeJS.ProcessEnv {
  return { ...process.env, DO_NOT_TRACK: '1', FERRETDB_TELEMETRY: 'disable' };
}

/** Starts a server whose data lives in a new temporary folder, removed when it stops (or fails to). */
async function inTemporaryFolder(
  prefix: string,
  start: (dataDir: string) => Promise<Endpoint>,
): Promise<Endpoint> {
  const dataDir = await mkdtemp(join(tmpdir(), prefix));
  try {
    const endpoint = await start(dataDir);
    return {
      ...endpoint,
      stop: async () => {
        await endpoint.stop();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
}

/** Starts a server on a free loopback port (a few ports tried), stopped by the returned `stop`. */
export async function startListening(
  name: string,
  start: (port: number) => Promise<ManagedProcess>,
  urlOf: (port: number) => string,
): Promise<Endpoint> {
  let lastError: unknown;
  // A free port can be taken between asking and binding: try a few.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await freePort();
    const managed = await start(port);
    try {
      await waitForPort(port, 20_000, managed.child);
      return { url: urlOf(port), source: 'local', stop: () => managed.stop() };
    } catch (error) {
      lastError = new Error(`${name} did not start: ${String(error)}\n${managed.output()}`);
      await managed.stop(1000);
    }
  }
  throw lastError;
}

function missing(binary: string): Error {
  return new Error(
    `No ${binary === 'ferretdb' ? 'MongoDB-wire server' : 'Redis'} available: set ` +
      `${binary === 'ferretdb' ? 'MONGODB_URL' : 'REDIS_URL'}, start a Docker engine, or install ` +
      `${binary} with \`${INSTALL_COMMAND}\`.`,
  );
}

/** Finds an executable on PATH. */
export function findBinary(name: string, env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir !== '' && existsSync(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

/** Finds a Go-built tool on PATH, in GOBIN, or in GOPATH/bin (where the install script puts it). */
export function findGoBinary(
  name: string,
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  const onPath = findBinary(name, env);
  if (onPath !== undefined) return onPath;
  const candidates = [
    env.GOBIN,
    env.GOPATH && join(env.GOPATH, 'bin'),
    goEnv('GOPATH'),
    join(homedir(), 'go'),
  ]
    .filter((dir): dir is string => typeof dir === 'string' && dir !== '')
    .map((dir) => (dir.endsWith('bin') ? join(dir, name) : join(dir, 'bin', name)));
  return candidates.find((file) => existsSync(file));
}

/** Finds FerretDB (see {@link findGoBinary}). */
export function findFerretDb(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return findGoBinary('ferretdb', env);
}

/** Finds Toxiproxy's server, built by scripts/install-toxiproxy.sh (see {@link findGoBinary}). */
export function findToxiproxy(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return findGoBinary('toxiproxy-server', env);
}

function goEnv(name: string): string | undefined {
  try {
    return (
      execFileSync('go', ['env', name], { encoding: 'utf8', timeout: 5000 }).trim() || undefined
    );
  } catch {
    return undefined;
  }
}

/**
 * True when testcontainers finds a container runtime that answers (its own probe: DOCKER_HOST,
 * ~/.testcontainers.properties, the usual sockets). A Docker client without an engine is not
 * enough. Loaded only when asked, so nothing of testcontainers runs when a URL is given.
 */
export async function dockerAvailable(): Promise<boolean> {
  const { getContainerRuntimeClient } = await import('testcontainers');
  try {
    await getContainerRuntimeClient();
    return true;
  } catch {
    return false;
  }
}
