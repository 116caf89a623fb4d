// Runs a service's real main.ts as a separate Node process, configured only through its environment.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { startProcess, type ManagedProcess } from './processes.ts';

/** Absolute path of the repository root. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** The entry point of each service. */
export const SERVICE_ENTRIES = Object.freeze({
  ingress: `${REPO_ROOT}services/ingress/src/main.ts`,
  operations: `${REPO_ROOT}services/operations/src/main.ts`,
  'approval-worker': `${REPO_ROOT}services/approval-worker/src/main.ts`,
  'deprovision-worker': `${REPO_ROOT}services/deprovision-worker/src/main.ts`,
});

export type ServiceName = keyof typeof SERVICE_ENTRIES;

/** A minimal environment for a child process: PATH and HOME, nothing of the parent's config. */
export function baseEnv(): NodeJS.ProcessEnv {
  // No drain on SIGTERM unless a test asks for one (the rolling-restart scenario does).
  return {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    NODE_ENV: 'test',
    SHUTDOWN_DRAIN_MS: '0',
  };
}

/**
 * Starts a service and resolves once it has logged `<name> started`; rejects with its output if
 * it exits first or does not start within `timeoutMs`.
 */
export async function startService(
  name: ServiceName,
  env: NodeJS.ProcessEnv,
  timeoutMs = 20_000,
): Promise<ManagedProcess> {
  // Several workers may run on one machine in tests: each takes a free monitoring port unless told.
  const managed = startProcess(process.execPath, [SERVICE_ENTRIES[name]], {
    env: { ...baseEnv(), MONITORING_PORT: '0', ...env },
  });
  const started = `"msg":"${name} started"`;
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`${name} did not start in ${timeoutMs} ms:\n${managed.output()}`));
    }, timeoutMs);
    const onData = (): void => {
      if (managed.output().includes(started)) {
        cleanup();
        resolve();
      }
    };
    const onExit = (code: number | null): void => {
      cleanup();
      reject(new Error(`${name} exited with ${code} before starting:\n${managed.output()}`));
    };
    const cleanup = (): void => {
      clearTimeout(timer);
      managed.child.stdout?.off('data', onData);
      managed.child.off('exit', onExit);
    };
    managed.child.stdout?.on('data', onData);
    managed.child.once('exit', onExit);
    onData();
  });
  return managed;
}

/** Runs a service to its exit and returns its exit code and output streams. */
export async function runServiceToExit(
  name: ServiceName,
  env: NodeJS.ProcessEnv,
  timeoutMs = 20_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [SERVICE_ENTRIES[name]], {
    env: { ...baseEnv(), MONITORING_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
  const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}
