// The local stack: resolves Redis and a MongoDB-wire server (env, Docker, or local binaries),
// starts the simulator of the outside parties (unless FORTELLIS_ISSUER points at a real Fortellis),
// then the four services (ingress, operations console, both workers); prints where everything
// listens, a fresh operator token and a command that sends a sample activation. Ctrl-C stops
// everything.
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { rm, writeFile } from 'node:fs/promises';
import { STACK_FILE } from './dev-stack-file.ts';
import { startSimulator, type Simulator } from '@fortellis-admin/simulator';
import {
  resolveMongo,
  resolveRedis,
  startService,
  type Endpoint,
  type ManagedProcess,
  type ServiceName,
} from '@fortellis-admin/test-support';

const port = Number(process.env.PORT ?? 3000);
const opsPort = Number(process.env.OPS_PORT ?? 3001);
// The ingress's /health, /ready and /metrics: never on its Fortellis-facing port.
const ingressMonitoringPort = Number(process.env.INGRESS_MONITORING_PORT ?? 9463);
// A fresh admin token per run (32 random characters), printed below: never a fixed one that could
// leak into a deployment. OPS_API_TOKENS given in the environment wins (name:role=token entries).
const opsToken = process.env.OPS_API_TOKENS ?? `dev:admin=${randomBytes(24).toString('base64url')}`;
const simPort = Number(process.env.SIM_PORT ?? 4010);
const queuePrefix = process.env.QUEUE_PREFIX ?? 'fortellis-admin-dev';
const stoppables: Array<{ stop(): Promise<void> }> = [];

async function stopAll(): Promise<void> {
  for (const item of stoppables.splice(0).reverse()) await item.stop().catch(() => undefined);
}

/**
 * Prefixes each line a service writes with its name. Lines are cut where they end, not where a
 * chunk of the pipe ends: a log line that arrives in two chunks is printed whole, once.
 */
function relay(name: string, service: ManagedProcess): void {
  for (const stream of [service.child.stdout, service.child.stderr]) {
    if (stream === null) continue;
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    lines.on('line', (line) => {
      if (line.trim() !== '') process.stdout.write(`[${name}] ${line}\n`);
    });
  }
}

/** Settings given in the environment win over the simulator's. */
function fromEnvironment(names: readonly string[]): Record<string, string> {
  return Object.fromEntries(
    names.flatMap((name) => (process.env[name] ? [[name, process.env[name]]] : [])),
  );
}

try {
  const [redis, mongo]: Endpoint[] = await Promise.all([resolveRedis(), resolveMongo()]);
  stoppables.push(redis!, mongo!);
  let sim: Simulator | undefined;
  if (process.env.FORTELLIS_ISSUER === undefined) {
    sim = await startSimulator({ port: simPort });
    stoppables.push(sim);
  }
  const env: Record<string, string> = {
    ...(sim?.env() ?? {}),
    ...fromEnvironment(
      Object.keys(process.env).filter((name) =>
        /^(FORTELLIS|BACKEND|INTEGRATION_STATUS|APPROVAL|PROVISIONING)_/.test(name),
      ),
    ),
    APPROVAL_DEFAULT_ACTION: process.env.APPROVAL_DEFAULT_ACTION ?? 'approve',
    BACKEND_PROVISIONER:
      process.env.BACKEND_PROVISIONER ?? sim?.env().BACKEND_PROVISIONER ?? 'none',
    BACKEND_DEPROVISIONER:
      process.env.BACKEND_DEPROVISIONER ?? sim?.env().BACKEND_DEPROVISIONER ?? 'none',
    REDIS_URL: redis!.url,
    MONGODB_URL: mongo!.url,
    QUEUE_PREFIX: queuePrefix,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'info',
    HOST: '127.0.0.1',
    PORT: String(port),
    OPS_HOST: '127.0.0.1',
    OPS_PORT: String(opsPort),
    OPS_API_TOKENS: opsToken,
  };
  for (const name of [
    'ingress',
    'operations',
    'approval-worker',
    'deprovision-worker',
  ] as ServiceName[]) {
    const service = await startService(
      name,
      name === 'ingress'
        ? { ...env, MONITORING_HOST: '127.0.0.1', MONITORING_PORT: String(ingressMonitoringPort) }
        : env,
    );
    stoppables.push(service);
    relay(name, service);
  }
  const lines = [
    '',
    `redis:     ${redis!.url} (${redis!.source})`,
    `mongodb:   ${mongo!.url} (${mongo!.source})`,
    sim === undefined
      ? `fortellis: ${env.FORTELLIS_ISSUER}`
      : `simulator: ${sim.url} (Fortellis, integration platform, backend)`,
    `ingress:   http://127.0.0.1:${port}  (POST /activate, POST /deactivate/{connectionId})`,
    `           http://127.0.0.1:${ingressMonitoringPort}  (its monitoring listener: GET /health, GET /ready, GET /metrics)`,
    `ops API:   http://127.0.0.1:${opsPort}/ops/connections  (OpenAPI: /ops/docs, metrics: /metrics)`,
    `queues:    http://127.0.0.1:${opsPort}/ops/queues  (Bull Board: log in with the operator token below)`,
    `console:   http://127.0.0.1:${opsPort}/ops/console  (what needs attention, search, timeline, actions)`,
    `           curl -H "Authorization: Bearer ${opsToken.split(',')[0]?.split('=')[1] ?? ''}" http://127.0.0.1:${opsPort}/ops/connections`,
  ];
  if (sim !== undefined) {
    lines.push(
      '',
      'send a sample activation, then its deactivation:',
      `  npm run sim -- activate --to http://127.0.0.1:${port} --sim ${sim.url} --count 1 --seed 7`,
      `  npm run sim -- deactivate --to http://127.0.0.1:${port} --sim ${sim.url} --count 1 --seed 7`,
      `recorded callbacks: ${sim.url}/_sim/calls?endpoint=callback`,
    );
  }
  lines.push('', 'npm run demo sends a few activations and deactivations and prints each outcome.');
  lines.push('', 'Ctrl-C stops everything.', '');
  await writeFile(
    STACK_FILE,
    JSON.stringify({
      ingressUrl: `http://127.0.0.1:${port}`,
      opsUrl: `http://127.0.0.1:${opsPort}`,
      opsToken: opsToken.split(',')[0]?.split('=')[1] ?? '',
      simUrl: sim?.url ?? null,
      // For npm run rules:check, which tries a rules file on the last stored activations.
      mongoUrl: mongo!.url,
    }),
    { mode: 0o600 },
  );
  stoppables.unshift({ stop: () => rm(STACK_FILE, { force: true }) });
  process.stdout.write(lines.join('\n'));
} catch (error) {
  process.stderr.write(`dev: ${error instanceof Error ? error.message : String(error)}\n`);
  await stopAll();
  process.exit(1);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    process.stdout.write('\nstopping…\n');
    void stopAll().then(() => process.exit(0));
  });
}
