// Private servers a fault test can stall (SIGSTOP / SIGCONT), kill -9 and restart on the same port
// and data folder, as an outage, a failover or a crashed host would: Redis, and the MongoDB-wire
// server (FerretDB on SQLite).
import { mkdtemp, rm } from 'node:fs/promises';
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
}

/** Redis with `appendfsync always`: an acknowledged write survives its kill -9. */
export type ControllableRedis = ControllableServer;

export function startControllableRedis(): Promise<ControllableRedis> {
  const binary = findBinary('redis-server');
  if (binary === undefined)
    throw new Error(`redis-server is not installed: run \`${INSTALL_COMMAND}\``);
  return startControllableServer({
    name: 'redis-server',
    start: (port, dataDir) => startProcess(binary, redisServerArgs(port, dataDir)),
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

async function startControllableServer(server: {
  name: string;
  start(port: number, dataDir: string): ManagedProcess;
  url(port: number): string;
}): Promise<ControllableServer> {
  const dataDir = await mkdtemp(join(tmpdir(), `${server.name}-faults-`));
  const port = await freePort();
  let current: ManagedProcess | undefined;
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
    if (current?.child.exitCode === null) current.child.kill(name);
  };
  try {
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
    kill: async () => {
      const dying = current;
      current = undefined;
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
      }
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
