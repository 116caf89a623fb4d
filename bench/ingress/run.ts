// Ingress benchmark: signed, valid, distinct activations against the real ingress process (real
// Redis, JWKS from the simulator), beside, in the same run, what a user would otherwise write
// (plain-server.ts: Fastify + jose + ajv + one BullMQ Queue.add per call, against the same durable
// Redis; the target is that the ingress, with its fenced and fsynced acknowledgement, matches it
// in requests/s and CPU per request) and a bare Fastify route (information only). Prints req/s,
// p50/p99 latency and the server's CPU per request, for a token reused across calls and for a
// fresh token per call, then p99 at half the saturating rate; and each server's memory (idle RSS
// and peak), and the ingress's RSS as the backlog of unconsumed jobs grows.
//
// The bare route, the plain route and the ingress (durable and not) run alternate for --rounds
// rounds and the medians are compared, so a drift of this shared machine during the run moves all
// sides alike. CPU time per request (from /proc, all of the process's threads) is disturbed by
// steal time and neighbours far less than throughput.
//
//   npm run bench:ingress [-- --seconds 5 --rounds 3 --connections 32]
//   INGRESS_NODE_OPTIONS='...' overrides the ingress's Node flags (default: the deployment's).
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { Pool } from 'undici';
import { ActivationGenerator, startSimulator } from '@fortellis-admin/simulator';
import {
  freePort,
  startLocalRedis,
  resolveRedis,
  startProcess,
  startService,
  waitForPort,
  type ManagedProcess,
} from '@fortellis-admin/test-support';
import { imageNodeFlags } from '../image-settings.ts';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '32' },
    'fresh-tokens': { type: 'string', default: '6000' },
  },
});
const seconds = Number(values.seconds);
const connections = Number(values.connections);
const rounds = Math.max(1, Number(values.rounds));

/** The run with the median throughput. */
function median(results: RunResult[]): RunResult {
  return [...results].sort((a, b) => a.rps - b.rps)[Math.floor(results.length / 2)]!;
}

interface RunResult {
  requests: number;
  errors: number;
  rps: number;
  p50: number;
  p99: number;
  /** CPU time (user + system) the server process spent per answered request, in µs. */
  cpuUsPerRequest: number;
}

/** CPU seconds (user + system) a process has used, from /proc (clock ticks of 10 ms). */
function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;
}

/** Sends POSTs over `connections` keep-alive sockets for `durationMs` (or until bodies run out). */
async function load(
  url: string,
  path: string,
  next: (i: number) => { body: string; token: string } | undefined,
  durationMs: number,
  server: ManagedProcess,
  options: { rate?: number } = {},
): Promise<RunResult> {
  const cpuBefore = cpuSeconds(server.child.pid!);
  const pool = new Pool(url, { connections, pipelining: 1, keepAliveTimeout: 30_000 });
  const latencies: number[] = [];
  let errors = 0;
  let index = 0;
  const start = performance.now();
  const deadline = start + durationMs;
  const worker = async (): Promise<void> => {
    for (;;) {
      const i = index;
      index += 1;
      if (options.rate !== undefined) {
        const due = start + (i * 1000) / options.rate;
        if (due >= deadline) return;
        const wait = due - performance.now();
        if (wait > 0) await delay(wait);
      } else if (performance.now() >= deadline) return;
      const item = next(i);
      if (item === undefined) return;
      const sent = performance.now();
      try {
        const response = await pool.request({
          method: 'POST',
          path,
          headers: {
            'content-type': 'application/json',
            authorization: `Bearer ${item.token}`,
            'request-id': `bench-${i}`,
          },
          body: item.body,
        });
        await response.body.dump();
        if (response.statusCode !== 200) errors += 1;
        latencies.push(performance.now() - sent);
      } catch {
        errors += 1;
      }
    }
  };
  await Promise.all(
    Array.from(
      { length: options.rate === undefined ? connections : Math.max(connections, 64) },
      worker,
    ),
  );
  const elapsed = (performance.now() - start) / 1000;
  const cpuUsed = cpuSeconds(server.child.pid!) - cpuBefore;
  await pool.close();
  const sorted = Float64Array.from(latencies).sort();
  return {
    requests: latencies.length,
    errors,
    rps: latencies.length / elapsed,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    cpuUsPerRequest: (cpuUsed * 1e6) / Math.max(1, latencies.length),
  };
}

/** A line of /proc/<pid>/status in MB: VmRSS (resident now) or VmHWM (the peak of VmRSS). */
function statusMb(child: ManagedProcess, field: 'VmRSS' | 'VmHWM'): number {
  const status = readFileSync(`/proc/${child.child.pid}/status`, 'utf8');
  const match = new RegExp(`${field}:\\s+(\\d+) kB`).exec(status);
  return match?.[1] === undefined ? Number.NaN : Number(match[1]) / 1024;
}
const rssMb = (child: ManagedProcess) => statusMb(child, 'VmRSS');
const peakRssMb = (child: ManagedProcess) => statusMb(child, 'VmHWM');

const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : 'n/a');

const sim = await startSimulator();
const redis = process.env.REDIS_URL === undefined ? await startLocalRedis() : await resolveRedis();
// What the durable acknowledgement costs: the same ingress against a Redis without an AOF, with
// ACK_DURABILITY=none, measured in the same alternating rounds.
const volatileRedis = await startLocalRedis({ durable: false });
const generator = new ActivationGenerator(31337);
// 5 000 realistic payloads, each sent with a new connectionId every time it is used: every call
// is a distinct activation (a new job, never deduplicated), however many calls the runs make,
// while making a body costs the load generator one string replacement.
const templates = Array.from({ length: 5000 }, () => {
  const activation = generator.next();
  return { text: JSON.stringify(activation), connectionId: activation.connectionId };
});
const bodyFor = (i: number): string => {
  const template = templates[i % templates.length]!;
  return template.text.replace(template.connectionId, randomUUID());
};
const reused = sim.identity.mint(sim.providerClient.clientId, { ttlSeconds: 3600 });
process.stdout.write(`minting ${values['fresh-tokens']} fresh tokens…\n`);
const fresh = Array.from({ length: Number(values['fresh-tokens']) }, () =>
  sim.identity.mint(sim.providerClient.clientId),
);

const barePort = await freePort();
const bare = startProcess(
  process.execPath,
  [fileURLToPath(new URL('./bare-server.ts', import.meta.url))],
  { env: { ...process.env, PORT: String(barePort) } },
);
await waitForPort(barePort, 10_000, bare.child);

// What a user would otherwise write (plain-server.ts), against the same durable Redis.
const plainPort = await freePort();
const plain = startProcess(
  process.execPath,
  [fileURLToPath(new URL('./plain-server.ts', import.meta.url))],
  {
    env: {
      ...process.env,
      ...sim.env(),
      REDIS_URL: redis.url,
      QUEUE_PREFIX: `bench-plain-${Date.now()}`,
      PORT: String(plainPort),
    },
  },
);
await waitForPort(plainPort, 10_000, plain.child);

const ingressNodeOptions = process.env.INGRESS_NODE_OPTIONS ?? imageNodeFlags('ingress');
const ingressPort = await freePort();
const ingress = await startService('ingress', {
  ...sim.env(),
  REDIS_URL: redis.url,
  QUEUE_PREFIX: `bench-${Date.now()}`,
  HOST: '127.0.0.1',
  PORT: String(ingressPort),
  NODE_OPTIONS: ingressNodeOptions,
});

const volatilePort = await freePort();
const volatileIngress = await startService('ingress', {
  ...sim.env(),
  REDIS_URL: volatileRedis.url,
  ACK_DURABILITY: 'none',
  QUEUE_PREFIX: `bench-${Date.now()}`,
  HOST: '127.0.0.1',
  PORT: String(volatilePort),
  NODE_OPTIONS: ingressNodeOptions,
});

interface Target {
  name: string;
  url: string;
  server: ManagedProcess;
  runs: RunResult[];
  idleRssMb: number;
  /** Jobs stored (200 answers) so far: none is consumed, so this is the queue's backlog. */
  stored: number;
}
const target = (name: string, port: number, server: ManagedProcess): Target => ({
  name,
  url: `http://127.0.0.1:${port}`,
  server,
  runs: [],
  idleRssMb: rssMb(server),
  stored: 0,
});
const bareTarget = target('bare', barePort, bare);
const plainTarget = target('plain', plainPort, plain);
const ingressTarget = target('ingress', ingressPort, ingress);
const volatileTarget = target('volatile', volatilePort, volatileIngress);
const alternating = [bareTarget, plainTarget, ingressTarget, volatileTarget];

const durationMs = seconds * 1000;
try {
  process.stdout.write(`warming up…\n`);
  for (const t of alternating) {
    const warm = await load(
      t.url,
      '/activate',
      (i) => ({ body: bodyFor(i), token: reused }),
      3000,
      t.server,
    );
    t.stored += warm.requests - warm.errors;
  }

  let offset = 0;
  const distinct = (token: (i: number) => string | undefined) => (i: number) => {
    const t = token(i);
    if (t === undefined) return undefined;
    offset += 1;
    return { body: bodyFor(offset), token: t };
  };
  const backlog: string[] = [];
  for (let round = 1; round <= rounds; round += 1) {
    for (const t of alternating) {
      const result = await load(
        t.url,
        '/activate',
        distinct(() => reused),
        durationMs,
        t.server,
      );
      t.runs.push(result);
      t.stored += result.requests - result.errors;
    }
    const last = (t: Target) =>
      `${t.name} ${fmt(t.runs.at(-1)!.rps, 0)} req/s ${fmt(t.runs.at(-1)!.cpuUsPerRequest, 0)} µs`;
    process.stdout.write(`round ${round}: ${alternating.map(last).join(', ')}\n`);
    backlog.push(`${ingressTarget.stored} jobs: ${fmt(rssMb(ingress), 0)} MB`);
  }
  const ceiling = median(bareTarget.runs);
  const plainRun = median(plainTarget.runs);
  const reusedRun = median(ingressTarget.runs);
  const volatileRun = median(volatileTarget.runs);
  const freshRun = await load(
    ingressTarget.url,
    '/activate',
    distinct((i) => fresh[i]),
    durationMs,
    ingress,
  );
  const halfRate = Math.max(1, Math.floor(reusedRun.rps / 2));
  const halfRun = await load(
    ingressTarget.url,
    '/activate',
    distinct(() => reused),
    durationMs,
    ingress,
    { rate: halfRate },
  );
  ingressTarget.stored += freshRun.requests - freshRun.errors + halfRun.requests - halfRun.errors;
  backlog.push(`${ingressTarget.stored} jobs: ${fmt(rssMb(ingress), 0)} MB`);

  const rows = [
    ['bare Fastify route (information)', ceiling],
    ['plain route: jose + ajv + Queue.add', plainRun],
    ['ingress, token reused (fenced, fsynced)', reusedRun],
    ['ingress, token reused, not durable (no AOF)', volatileRun],
    ['ingress, fresh token per call', freshRun],
    [`ingress, reused, paced at ${halfRate}/s (half)`, halfRun],
  ] as const;
  process.stdout.write(
    `\nloopback, ${connections} connections, ${seconds} s per run, medians of ${rounds} alternating rounds for the first four rows, Node ${process.version}\n`,
  );
  process.stdout.write(
    `${'run'.padEnd(44)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'errors'.padStart(7)} ${'bare'.padStart(6)} ${'plain'.padStart(6)} ${'CPU µs/req'.padStart(11)}\n`,
  );
  for (const [name, result] of rows) {
    process.stdout.write(
      `${name.padEnd(44)} ${fmt(result.rps, 0).padStart(8)} ${fmt(result.p50, 2).padStart(8)} ${fmt(result.p99, 2).padStart(8)} ${String(result.errors).padStart(7)} ${fmt(result.rps / ceiling.rps, 2).padStart(6)} ${fmt(result.rps / plainRun.rps, 2).padStart(6)} ${fmt(result.cpuUsPerRequest, 0).padStart(11)}\n`,
    );
  }
  process.stdout.write(
    `\nmemory (RSS idle → peak): ${alternating.map((t) => `${t.name} ${fmt(t.idleRssMb, 0)} → ${fmt(peakRssMb(t.server), 0)} MB`).join(', ')}; ingress Node flags '${ingressNodeOptions}'\n`,
  );
  process.stdout.write(
    `ingress RSS with the backlog (jobs stored, none consumed): ${backlog.join('; ')}\n`,
  );
  const verdict = (ok: boolean) => (ok ? 'met' : 'NOT met');
  process.stdout.write(
    `ingress vs plain route: ${fmt(reusedRun.rps / plainRun.rps, 2)}× the requests/s (target ≥ 1: ${verdict(reusedRun.rps >= plainRun.rps)}), ${fmt(reusedRun.cpuUsPerRequest / plainRun.cpuUsPerRequest, 2)}× the CPU per request (target ≤ 1: ${verdict(reusedRun.cpuUsPerRequest <= plainRun.cpuUsPerRequest)}); p99 at half rate ${fmt(halfRun.p99, 2)} ms (target < 50 ms: ${verdict(halfRun.p99 < 50)})\n`,
  );
  if (freshRun.requests >= fresh.length)
    process.stdout.write(
      `(the fresh-token run used all ${fresh.length} pre-minted tokens before the time was up)\n`,
    );
} finally {
  await ingress.stop();
  await volatileIngress.stop();
  await plain.stop();
  await bare.stop();
  await redis.stop();
  await volatileRedis.stop();
  await sim.stop();
}
