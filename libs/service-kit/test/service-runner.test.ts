// The service runner's fatal handlers: an unhandled rejection or uncaught exception is logged as
// fatal, what can be closed is closed, and the process exits non-zero for the orchestrator.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FATAL_STOP_BOUND_MS } from '@fortellis-admin/service-kit';

const FIXTURE = fileURLToPath(new URL('./fixtures/faulty-service.ts', import.meta.url));

async function run(
  fault: string,
): Promise<{ code: number | null; lines: Record<string, unknown>[]; ms: number }> {
  const started = Date.now();
  const child = spawn(process.execPath, [FIXTURE, fault], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number | null];
  const lines = out
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  return { code, lines, ms: Date.now() - started };
}

describe('runService fatal handlers', () => {
  it('when a promise rejection goes unhandled, it logs it as fatal, stops the service and exits 1', async () => {
    const { code, lines } = await run('rejection');
    expect(code).toBe(1);
    expect(lines.find((line) => line.level === 'fatal')).toMatchObject({
      kind: 'unhandledRejection',
      err: { message: 'nobody awaited this promise' },
    });
    expect(lines.some((line) => line.msg === 'stop ran')).toBe(true);
  });

  it('when an exception is thrown where nothing catches it, it logs it as fatal and exits 1', async () => {
    const { code, lines } = await run('exception');
    expect(code).toBe(1);
    expect(lines.find((line) => line.level === 'fatal')).toMatchObject({
      kind: 'uncaughtException',
      err: { message: 'thrown from a timer' },
    });
    expect(lines.some((line) => line.msg === 'stop ran')).toBe(true);
  });

  it('when stopping hangs after a fatal error, it exits 1 anyway once the bound has passed', async () => {
    const { code, lines, ms } = await run('rejection-stuck');
    expect(code).toBe(1);
    expect(lines.some((line) => line.msg === 'stop ran')).toBe(true);
    expect(ms).toBeGreaterThanOrEqual(FATAL_STOP_BOUND_MS);
  });

  it('without a fault it keeps running until told to stop, then exits 0', async () => {
    const child = spawn(process.execPath, [FIXTURE, 'none'], {
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    // SIGTERM before the handlers are installed would kill it the default way: wait until started.
    while (!out.includes('faulty-service started')) {
      if (child.exitCode !== null) throw new Error(`exited early: ${out}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(child.exitCode).toBeNull();
    child.kill('SIGTERM');
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
  });
});
