// Ingress benchmark: signed, valid, distinct activations against the real ingress process (real
// Redis, JWKS from the simulator), beside a bare Fastify route measured in the same run (the
// ceiling). Prints req/s, p50/p99 latency and the server's peak RSS, for a token reused across
// calls and for a fresh token per call, then p99 at half the saturating rate.
//
// The bare route and the reused-token ingress run alternate for --rounds rounds and the medians
// are compared, so a drift of this shared machine during the run moves both sides alike. Each
// row also gives the server process's CPU time per request (from /proc), which steal time and
// neighbours disturb far less than throughput.
//
//   npm run bench:ingress [-- --seconds 5 --rounds 3 --connections 32]
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

function peakRssMb(child: ManagedProcess): number {
  const status = readFileSync(`/proc/${child.child.pid}/status`, 'utf8');
  const match = /VmHWM:\s+(\d+) kB/.exec(status);
  return match?.[1] === undefined ? Number.NaN : Number(match[1]) / 1024;
}

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

const ingressPort = await freePort();
const ingress = await startService('ingress', {
  ...sim.env(),
  REDIS_URL: redis.url,
  QUEUE_PREFIX: `bench-${Date.now()}`,
  HOST: '127.0.0.1',
  PORT: String(ingressPort),
  // The same memory settings the deployment uses (deploy/Dockerfile).
  NODE_OPTIONS:
    process.env.INGRESS_NODE_OPTIONS ?? '--max-semi-space-size=16 --max-old-space-size=160',
});

const volatilePort = await freePort();
const volatileIngress = await startService('ingress', {
  ...sim.env(),
  REDIS_URL: volatileRedis.url,
  ACK_DURABILITY: 'none',
  QUEUE_PREFIX: `bench-${Date.now()}`,
  HOST: '127.0.0.1',
  PORT: String(volatilePort),
  NODE_OPTIONS:
    process.env.INGRESS_NODE_OPTIONS ?? '--max-semi-space-size=16 --max-old-space-size=160',
});

const durationMs = seconds * 1000;
try {
  process.stdout.write(`warming up…\n`);
  await load(
    `http://127.0.0.1:${barePort}`,
    '/activate',
    (i) => ({ body: bodyFor(i), token: reused }),
    3000,
    bare,
  );
  await load(
    `http://127.0.0.1:${ingressPort}`,
    '/activate',
    (i) => ({ body: bodyFor(i), token: reused }),
    3000,
    ingress,
  );
  await load(
    `http://127.0.0.1:${volatilePort}`,
    '/activate',
    (i) => ({ body: bodyFor(i), token: reused }),
    3000,
    volatileIngress,
  );

  let offset = 0;
  const distinct = (token: (i: number) => string | undefined) => (i: number) => {
    const t = token(i);
    if (t === undefined) return undefined;
    offset += 1;
    return { body: bodyFor(offset), token: t };
  };
  const ceilings: RunResult[] = [];
  const reusedRuns: RunResult[] = [];
  const volatileRuns: RunResult[] = [];
  for (let round = 1; round <= rounds; round += 1) {
    ceilings.push(
      await load(
        `http://127.0.0.1:${barePort}`,
        '/activate',
        distinct(() => reused),
        durationMs,
        bare,
      ),
    );
    reusedRuns.push(
      await load(
        `http://127.0.0.1:${ingressPort}`,
        '/activate',
        distinct(() => reused),
        durationMs,
        ingress,
      ),
    );
    volatileRuns.push(
      await load(
        `http://127.0.0.1:${volatilePort}`,
        '/activate',
        distinct(() => reused),
        durationMs,
        volatileIngress,
      ),
    );
    process.stdout.write(
      `round ${round}: volatile ingress (ACK_DURABILITY=none, no AOF) ${fmt(volatileRuns.at(-1)!.rps, 0)} req/s, ${fmt(volatileRuns.at(-1)!.cpuUsPerRequest, 0)} µs/req; bare ${fmt(ceilings.at(-1)!.rps, 0)} req/s, ingress (reused token) ${fmt(reusedRuns.at(-1)!.rps, 0)} req/s, ratio ${fmt(reusedRuns.at(-1)!.rps / ceilings.at(-1)!.rps, 2)}; server CPU per request: bare ${fmt(ceilings.at(-1)!.cpuUsPerRequest, 0)} µs, ingress ${fmt(reusedRuns.at(-1)!.cpuUsPerRequest, 0)} µs\n`,
    );
  }
  const ceiling = median(ceilings);
  const reusedRun = median(reusedRuns);
  const volatileRun = median(volatileRuns);
  const freshRun = await load(
    `http://127.0.0.1:${ingressPort}`,
    '/activate',
    distinct((i) => fresh[i]),
    durationMs,
    ingress,
  );
  const halfRate = Math.max(1, Math.floor(reusedRun.rps / 2));
  const halfRun = await load(
    `http://127.0.0.1:${ingressPort}`,
    '/activate',
    distinct(() => reused),
    durationMs,
    ingress,
    { rate: halfRate },
  );

  const rows = [
    ['bare Fastify route (ceiling)', ceiling, peakRssMb(bare)],
    ['ingress, token reused', reusedRun, Number.NaN],
    ['ingress, token reused, not durable (no AOF)', volatileRun, peakRssMb(volatileIngress)],
    ['ingress, fresh token per call', freshRun, Number.NaN],
    [`ingress, reused, paced at ${halfRate}/s (half)`, halfRun, peakRssMb(ingress)],
  ] as const;
  process.stdout.write(
    `\nloopback, ${connections} connections, ${seconds} s per run, medians of ${rounds} alternating rounds for the first three rows, Node ${process.version}\n`,
  );
  process.stdout.write(
    `${'run'.padEnd(44)} ${'req/s'.padStart(8)} ${'p50 ms'.padStart(8)} ${'p99 ms'.padStart(8)} ${'errors'.padStart(7)} ${'ratio'.padStart(6)} ${'CPU µs/req'.padStart(11)}\n`,
  );
  for (const [name, result] of rows) {
    process.stdout.write(
      `${name.padEnd(44)} ${fmt(result.rps, 0).padStart(8)} ${fmt(result.p50, 2).padStart(8)} ${fmt(result.p99, 2).padStart(8)} ${String(result.errors).padStart(7)} ${fmt(result.rps / ceiling.rps, 2).padStart(6)} ${fmt(result.cpuUsPerRequest, 0).padStart(11)}\n`,
    );
  }
  process.stdout.write(
    `\npeak RSS: bare ${fmt(peakRssMb(bare))} MB, ingress ${fmt(peakRssMb(ingress))} MB\n`,
  );
  process.stdout.write(
    `reused-token throughput is ${fmt((100 * reusedRun.rps) / ceiling.rps, 0)}% of the ceiling (target ≥ 40%); p99 at half rate ${fmt(halfRun.p99, 2)} ms (target < 50 ms)\n`,
  );
  if (freshRun.requests >= fresh.length)
    process.stdout.write(
      `(the fresh-token run used all ${fresh.length} pre-minted tokens before the time was up)\n`,
    );
} finally {
  await ingress.stop();
  await volatileIngress.stop();
  await bare.stop();
  await redis.stop();
  await volatileRedis.stop();
  await sim.stop();
}
