// The README's "run the system" command: `npm run dev` brings the whole system up on this machine
// (its own Redis and MongoDB-wire server, the simulator, the four services), the sample command
// it prints gets a 200 and the connection is accepted at the simulator, `npm run demo` goes
// through, `npm run rules:check` reads its stored activations, and Ctrl-C (SIGINT) leaves no
// process behind.
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import {
  REPO_ROOT,
  baseEnv,
  freePort,
  startProcess,
  type ManagedProcess,
} from '@fortellis-admin/test-support';

const run = promisify(execFile);

/** Every live descendant of a process, from /proc. */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
    } catch {
      // The process ended while we looked.
    }
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    for (const child of children.get(queue.shift()!) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    // A zombie is not running anything; it only waits for its parent to read its status.
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
};

let dev: ManagedProcess | undefined;
afterAll(async () => {
  await dev?.stop();
});

describe('npm run dev', () => {
  it(
    'comes up, the printed sample activation is accepted, the demo runs, Ctrl-C leaves nothing behind',
    { timeout: 180_000 },
    async () => {
      const stackFile = join(tmpdir(), `dev-stack-${process.pid}-${Date.now()}.json`);
      const [port, opsPort, simPort] = [await freePort(), await freePort(), await freePort()];
      const env = {
        ...baseEnv(),
        PORT: String(port),
        OPS_PORT: String(opsPort),
        SIM_PORT: String(simPort),
        QUEUE_PREFIX: `dev-test-${process.pid}`,
        DEV_STACK_FILE: stackFile,
      };
      dev = startProcess(process.execPath, [`${REPO_ROOT}scripts/dev.ts`], {
        env,
        cwd: REPO_ROOT,
      });
      await expect
        .poll(() => dev!.output().includes('Ctrl-C stops everything.'), {
          timeout: 90_000,
          interval: 250,
        })
        .toBe(true);
      const printed = dev.output();
      expect(printed).toContain(`http://127.0.0.1:${port}`);
      expect(printed).toContain(`http://127.0.0.1:${opsPort}/ops/queues`);
      expect(printed).toContain(`http://127.0.0.1:${opsPort}/ops/console`);
      expect(existsSync(stackFile)).toBe(true);

      // The one-line sample command, as printed.
      const sample = printed
        .split('\n')
        .map((line) => line.trim())
        .find((line) => line.startsWith('npm run sim -- activate'));
      expect(sample).toBeDefined();
      const sent = await run('sh', ['-c', sample!], { cwd: REPO_ROOT, env, timeout: 60_000 });
      const answer = sent.stdout
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as { connectionId: string; status: number });
      expect(answer).toHaveLength(1);
      expect(answer[0]!.status).toBe(200);
      await expect
        .poll(
          async () => {
            const calls = (await (
              await fetch(`http://127.0.0.1:${simPort}/_sim/calls?endpoint=callback`)
            ).json()) as { params: { connectionId: string }; body: { status: string } }[];
            return calls
              .filter((call) => call.params.connectionId === answer[0]!.connectionId)
              .map((call) => call.body.status);
          },
          { timeout: 30_000 },
        )
        .toEqual(['accepted']);

      // npm run demo: five activations, two deactivations, each connection's final state.
      const demo = await run(process.execPath, [`${REPO_ROOT}scripts/demo.ts`], {
        cwd: REPO_ROOT,
        env,
        timeout: 90_000,
      });
      const rows = demo.stdout.split('\n').filter((line) => /^[0-9a-f-]{36}\s/.test(line));
      expect(rows).toHaveLength(5);
      expect(
        rows.filter((row) => /\sdeactivated\s+accepted\s+cleanup:done/.test(row)),
      ).toHaveLength(2);
      expect(rows.filter((row) => /\saccepted\s+accepted\s+-$/.test(row))).toHaveLength(3);

      // npm run rules:check tries a rules file on the stack's last stored activations.
      const rulesFile = join(tmpdir(), `rules-${process.pid}-${Date.now()}.json`);
      await writeFile(rulesFile, JSON.stringify({ defaultAction: 'review', rules: [] }));
      const checked = await run(
        process.execPath,
        [`${REPO_ROOT}scripts/rules-check.ts`, rulesFile, '3', '--json'],
        { cwd: REPO_ROOT, env, timeout: 30_000 },
      );
      const outcomes = (JSON.parse(checked.stdout) as { outcomes: { ruleId: string }[] }).outcomes;
      expect(outcomes.map((outcome) => outcome.ruleId)).toEqual(['default', 'default', 'default']);

      // Ctrl-C: everything the stack started ends with it.
      const started = descendants(dev.child.pid!);
      expect(started.length).toBeGreaterThanOrEqual(5);
      const exited = once(dev.child, 'exit');
      dev.child.kill('SIGINT');
      const [code] = (await exited) as [number | null];
      expect(code).toBe(0);
      await expect.poll(() => started.filter(alive), { timeout: 10_000 }).toEqual([]);
      expect(existsSync(stackFile)).toBe(false);
      dev = undefined;
    },
  );
});
