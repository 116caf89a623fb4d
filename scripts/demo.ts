// `npm run demo`: with the local stack running (`npm run dev`), sends a handful of activations
// through the Fortellis-facing port as Fortellis would, deactivates some of them, waits for each
// connection to settle, and prints its final state, the callback Fortellis received and the
// deprovision steps. Reads where the stack listens from .dev-stack.json, which `npm run dev` writes.
import { readFile } from 'node:fs/promises';
import { STACK_FILE } from './dev-stack-file.ts';
import { FortellisCaller, remoteTokenSource } from '@fortellis-admin/simulator';

interface Stack {
  ingressUrl: string;
  opsUrl: string;
  opsToken: string;
  simUrl: string | null;
}

interface Connection {
  connectionId: string;
  state: string;
  activation?: { organizationInfo: { name: string } };
  decision?: { action: string; ruleId: string } | null;
  steps: Record<string, { status?: string }>;
}

const ACTIVATIONS = 5;
const DEACTIVATIONS = 2;
const SETTLED = new Set(['accepted', 'rejection_sent', 'callback_failed', 'pending_review']);

function fail(message: string): never {
  process.stderr.write(`demo: ${message}\n`);
  process.exit(1);
}

const stack =
  (await readFile(STACK_FILE, 'utf8')
    .then((text) => JSON.parse(text) as Stack)
    .catch(() => undefined)) ??
  fail('no local stack is running: start it with `npm run dev` first');
if (stack.simUrl === null)
  fail('the demo needs the simulator; the stack runs against a real Fortellis');
const simUrl = stack.simUrl;

async function connection(connectionId: string): Promise<Connection | undefined> {
  const response = await fetch(`${stack.opsUrl}/ops/connections/${connectionId}`, {
    headers: { authorization: `Bearer ${stack.opsToken}` },
  });
  return response.ok ? ((await response.json()) as Connection) : undefined;
}

async function settle(connectionId: string, done: (c: Connection) => boolean): Promise<Connection> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const current = await connection(connectionId);
    if (current !== undefined && done(current)) return current;
    if (Date.now() > deadline) {
      fail(
        `connection ${connectionId} did not settle in 30 s (state ${current?.state ?? 'unknown'})`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

const caller = new FortellisCaller({
  adminApiUrl: stack.ingressUrl,
  // A new seed per run: new connections every time.
  seed: Date.now() % 1_000_000,
  token: remoteTokenSource(simUrl),
});

process.stdout.write(`sending ${ACTIVATIONS} activations to ${stack.ingressUrl}\n`);
const activated = await caller.activateMany({ count: ACTIVATIONS });
for (const result of activated) {
  process.stdout.write(`  POST /activate ${result.connectionId} → ${result.status}\n`);
}
if (activated.some((result) => result.status !== 200)) fail('an activation was not acknowledged');
const ids = activated.map((result) => result.connectionId);
for (const id of ids) await settle(id, (c) => SETTLED.has(c.state));

const leaving = ids.slice(0, DEACTIVATIONS);
process.stdout.write(`deactivating ${leaving.length} of them\n`);
for (const result of await caller.deactivateMany(leaving)) {
  process.stdout.write(`  POST /deactivate/${result.connectionId} → ${result.status}\n`);
}
await caller.close();
for (const id of leaving) {
  await settle(
    id,
    // Both deprovision steps (backend clean-up, then the status report) have ended.
    (c) =>
      c.state === 'deactivated' &&
      ['cleanup', 'deactivationReport'].every((step) => c.steps[step]?.status !== undefined),
  );
}

const callbacks = (await (await fetch(`${simUrl}/_sim/calls?endpoint=callback`)).json()) as {
  params: { connectionId: string };
  body: { status: string };
}[];
process.stdout.write(
  '\nconnection                            organization                 state          callback  deprovision steps\n',
);
for (const id of ids) {
  const final = (await connection(id))!;
  const sent = callbacks
    .filter((call) => call.params.connectionId === id)
    .map((call) => call.body.status)
    .join(',');
  const steps = Object.entries(final.steps)
    .map(([step, record]) => `${step}:${record.status ?? 'running'}`)
    .join(' ');
  process.stdout.write(
    `${id}  ${(final.activation?.organizationInfo.name ?? '').slice(0, 27).padEnd(27)}  ${final.state.padEnd(13)}  ${(sent || '-').padEnd(8)}  ${steps || '-'}\n`,
  );
}
process.stdout.write(
  `\nBull Board: ${stack.opsUrl}/ops/queues   ops API: ${stack.opsUrl}/ops/connections\n`,
);
