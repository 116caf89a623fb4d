// Private servers a fault test can stall (SIGSTOP / SIGCONT), kill -9 and restart on the same port
// and data folder, as an outage, a failover or a crashed host would: Redis (also as a replica, a
// Sentinel or a cluster node, see redis-topology.ts), and the MongoDB-wire server (FerretDB on
// SQLite).
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  ferretDbArgs,
  ferretDbEnv,
  findBinary,
  findFerretDb,
  INSTALL_COMMAND,
  redisServerArgs,
} from './infrastructure.ts';
import { freePort, startProcess, waitForPort, type ManagedProcess } from './processes.ts';

export interface ControllableServer {
  readonly url: string;
  readonly port: number;
  /** SIGSTOP: the server keeps its connections but answers nothing. */
  pause(): void;
  /** SIGCONT: the server runs again and works off what was sent meanwhile. */
  resume(): void;
  /** SIGKILL, and waits until the process is gone: what its disk holds is all that survives. */
  kill(): Promise<void>;
  /** Starts the server again on the same port from the same data folder. */
  restart(): Promise<void>;
  /** Stops the server (if running) and removes its data. */
  stop(): Promise<void>;
  /** `running`, `paused` (SIGSTOP) or `down` (killed, stopped, or exited by itself). */
  state(): 'running' | 'paused' | 'down';
}

/** Redis with `appendfsync always`: an acknowledged write survives its kill -9. */
export type ControllableRedis = ControllableServer;

/** How a controllable redis-server is started; without options, as {@link redisServerArgs}. */
export interface ControllableRedisOptions {
  /** False: no AOF (see {@link redisServerArgs}). Default true. */
  readonly durable?: boolean;
  /**
   * The text of a config file written to the data folder before the first start and read at every
   * start. Redis (CONFIG REWRITE) and Sentinel rewrite it, so a restart keeps the role a failover
   * gave the node, as a real host's redis.conf does.
   */
  readonly config?: (port: number, dataDir: string) => string;
  /** Arguments after the usual ones (e.g. cluster mode). */
  readonly args?: (port: number, dataDir: string) => readonly string[];
  /** Runs as a Sentinel (`--sentinel`, `config` is its sentinel.conf), without Redis's data args. */
  readonly sentinel?: boolean;
  /** Names the server in errors and its data folder. Default `redis-server`/`redis-sentinel`. */
  readonly name?: string;
}

export function startControllableRedis(
  options: ControllableRedisOptions = {},
): Promise<ControllableRedis> {
  const binary = findBinary('redis-server');
  if (binary === undefined)
    throw new Error(`redis-server is not installed: run \`${INSTALL_COMMAND}\``);
  const configFile = (dataDir: string): string =>
    join(dataDir, options.sentinel === true ? 'sentinel.conf' : 'redis.conf');
  const { config } = options;
  return startControllableServer({
    name: options.name ?? (options.sentinel === true ? 'redis-sentinel' : 'redis-server'),
    ...(config && {
      prepare: (port, dataDir) => writeFile(configFile(dataDir), config(port, dataDir)),
    }),
    start: (port, dataDir) => {
      const base =
        options.sentinel === true
          ? ['--sentinel', '--port', String(port), '--bind', '127.0.0.1', '--dir', dataDir]
          : redisServerArgs(port, dataDir, options.durable ?? true);
      const file = config === undefined ? [] : [configFile(dataDir)];
      return startProcess(binary, [...file, ...base, ...(options.args?.(port, dataDir) ?? [])]);
    },
    url: (port) => `redis://127.0.0.1:${port}`,
  });
}

/** FerretDB on SQLite, as the local MongoDB-wire server; its data folder survives a kill -9. */
export function startControllableFerretDb(): Promise<ControllableServer> {
  const binary = findFerretDb();
  if (binary === undefined)
    throw new Error(`ferretdb is not installed: run \`${INSTALL_COMMAND}\``);
  return startControllableServer({
    name: 'ferretdb',
    start: (port, dataDir) =>
      startProcess(binary, ferretDbArgs(port, dataDir), { env: ferretDbEnv() }),
    url: (port) => `mongodb://127.0.0.1:${port}/`,
  });
}

/** How {@link startControllableServer} starts (and restarts) one server. */
export interface ControllableServerSpec {
  readonly name: string;
  /** Runs once, before the first start (e.g. writes the config file the server reads). */
  prepare?(port: number, dataDir: string): Promise<void>;
  start(port: number, dataDir: string): ManagedProcess;
  url(port: number): string;
}

/** Starts a server on a free loopback port with a new data folder, under the caller's control. */
export async function startControllableServer(
  server: ControllableServerSpec,
): Promise<ControllableServer> {
  const dataDir = await mkdtemp(join(tmpdir(), `${server.name}-faults-`));
  const port = await freePort();
  let current: ManagedProcess | undefined;
  let paused = false;
  const start = async (): Promise<void> => {
    const started = server.start(port, dataDir);
    try {
      await waitForPort(port, 20_000, started.child);
    } catch (error) {
      await started.stop(1000);
      throw new Error(`${server.name} did not start: ${String(error)}\n${started.output()}`, {
        cause: error,
      });
    }
    current = started;
  };
  const signal = (name: NodeJS.Signals): void => {
    if (current?.child.exitCode === null) {
      current.child.kill(name);
      paused = name === 'SIGSTOP';
    }
  };
  const alive = (): boolean =>
    current !== undefined && current.child.exitCode === null && current.child.signalCode === null;
  try {
    await server.prepare?.(port, dataDir);
    await start();
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
  return {
    url: server.url(port),
    port,
    pause: () => signal('SIGSTOP'),
    resume: () => signal('SIGCONT'),
    state: () => (!alive() ? 'down' : paused ? 'paused' : 'running'),
    kill: async () => {
      const dying = current;
      current = undefined;
      paused = false;
      if (dying === undefined || dying.child.exitCode !== null) return;
      const gone = new Promise((resolve) => dying.child.once('exit', resolve));
      dying.child.kill('SIGKILL');
      await gone;
    },
    restart: start,
    stop: async () => {
      if (current !== undefined) {
        current.child.kill('SIGCONT');
        await current.stop(2000);
        current = undefined;
        paused = false;
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
