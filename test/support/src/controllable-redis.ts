// A private redis-server that a fault test can stall (SIGSTOP / SIGCONT), kill -9 and restart on
// the same port and data folder, as an outage, a failover or a crashed host would.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { findBinary, INSTALL_COMMAND, redisServerArgs } from './infrastructure.ts';
import { freePort, startProcess, waitForPort, type ManagedProcess } from './processes.ts';

export interface ControllableRedis {
  readonly url: string;
  readonly port: number;
  /** SIGSTOP: Redis keeps its connections but answers nothing. */
  pause(): void;
  /** SIGCONT: Redis runs again and works off what was sent meanwhile. */
  resume(): void;
  /** SIGKILL, and waits until the process is gone: what the AOF holds is all that survives. */
  kill(): Promise<void>;
  /** Starts Redis again on the same port from the same data folder. */
  restart(): Promise<void>;
  /** Stops Redis (if running) and removes its data. */
  stop(): Promise<void>;
}

export async function startControllableRedis(): Promise<ControllableRedis> {
  const binary = findBinary('redis-server');
  if (binary === undefined)
    throw new Error(`redis-server is not installed: run \`${INSTALL_COMMAND}\``);
  const dataDir = await mkdtemp(join(tmpdir(), 'redis-faults-'));
  const port = await freePort();
  let current: ManagedProcess | undefined;
  const start = async (): Promise<void> => {
    const started = startProcess(binary, redisServerArgs(port, dataDir));
    try {
      await waitForPort(port, 20_000, started.child);
    } catch (error) {
      await started.stop(1000);
      throw new Error(`redis-server did not start: ${String(error)}\n${started.output()}`, {
        cause: error,
      });
    }
    current = started;
  };
  const signal = (name: NodeJS.Signals): void => {
    if (current?.child.exitCode === null) current.child.kill(name);
  };
  await start();
  return {
    url: `redis://127.0.0.1:${port}`,
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
