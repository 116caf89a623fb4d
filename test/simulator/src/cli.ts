#!/usr/bin/env node
// The simulator's command line: `serve` runs it; `activate` / `deactivate` play Fortellis calling
// a provider's Admin API URL, with tokens minted by a running simulator.
import { parseArgs } from 'node:util';
import { FortellisCaller, remoteTokenSource, type CallResult } from './driver.ts';
import { ActivationGenerator } from './payloads.ts';
import { startSimulator } from './simulator.ts';

const USAGE = `usage:
  sim serve [--port 4010] [--host 127.0.0.1] [--public-url URL]
  sim activate   --to ADMIN_API_URL [--count 1] [--rate R] [--concurrency C] [--seed 1] [--sim URL]
  sim deactivate --to ADMIN_API_URL (--connection-id ID ... | --count N [--seed 1]) [--rate R] [--sim URL]

  --sim defaults to $SIM_URL, else http://127.0.0.1:4010 (the simulator that mints the tokens).
  deactivate --count N --seed S deactivates the connections that activate --count N --seed S created.`;

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    port: { type: 'string', default: '4010' },
    host: { type: 'string', default: '127.0.0.1' },
    'public-url': { type: 'string' },
    to: { type: 'string' },
    count: { type: 'string' },
    rate: { type: 'string' },
    concurrency: { type: 'string' },
    seed: { type: 'string', default: '1' },
    sim: { type: 'string' },
    'connection-id': { type: 'string', multiple: true },
    help: { type: 'boolean', short: 'h' },
  },
});

function fail(message: string): never {
  process.stderr.write(`sim: ${message}\n${USAGE}\n`);
  process.exit(2);
}

function positiveNumber(name: string, raw: string | undefined): number | undefined {
  if (raw === undefined) return undefined;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0)
    fail(`--${name} must be a positive number, got ${raw}`);
  return value;
}

async function serve(): Promise<void> {
  const simulator = await startSimulator({
    host: values.host,
    port: Number(values.port),
    ...(values['public-url'] === undefined ? {} : { publicUrl: values['public-url'] }),
  });
  const lines = [
    `simulator listening on ${simulator.url}`,
    `  JWKS:      ${simulator.identity.jwksUrl}`,
    `  token:     ${simulator.identity.tokenUrl}`,
    `  callback:  ${simulator.url}/connections/{connectionId}/callback`,
    `  status:    ${simulator.url}/api/integration_management/v2/status`,
    `  backend:   ${simulator.url}/backend/provision, ${simulator.url}/backend/deprovision`,
    `  accounts:  ${simulator.url}/_sim/accounts`,
    `  recorded:  ${simulator.url}/_sim/calls?endpoint=callback`,
    '',
    'environment for the services:',
    ...Object.entries(simulator.env()).map(([name, value]) => `${name}=${value}`),
    '',
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => void simulator.stop().then(() => process.exit(0)));
  }
}

async function drive(kind: 'activate' | 'deactivate'): Promise<void> {
  if (values.to === undefined) fail('--to is required');
  const simUrl = (values.sim ?? process.env.SIM_URL ?? 'http://127.0.0.1:4010').replace(/\/+$/, '');
  const caller = new FortellisCaller({
    adminApiUrl: values.to,
    seed: Number(values.seed),
    token: remoteTokenSource(simUrl),
  });
  const rate = positiveNumber('rate', values.rate);
  const concurrency = positiveNumber('concurrency', values.concurrency);
  const pacing = {
    ...(rate === undefined ? {} : { rate }),
    ...(concurrency === undefined ? {} : { concurrency }),
  };
  let results: CallResult[];
  if (kind === 'activate') {
    results = await caller.activateMany({
      count: positiveNumber('count', values.count) ?? 1,
      ...pacing,
    });
  } else {
    let ids = values['connection-id'] ?? [];
    if (ids.length === 0) {
      const count = positiveNumber('count', values.count);
      if (count === undefined) fail('deactivate needs --connection-id or --count');
      const generator = new ActivationGenerator(Number(values.seed));
      ids = Array.from({ length: count }, () => generator.next().connectionId);
    }
    results = await caller.deactivateMany(ids, pacing);
  }
  await caller.close();
  for (const result of results) {
    process.stdout.write(
      `${JSON.stringify({ kind: result.kind, connectionId: result.connectionId, status: result.status, requestId: result.requestId, ms: Math.round(result.latencyMs), ...(result.error === undefined ? {} : { error: result.error }) })}\n`,
    );
  }
  const byStatus = new Map<number, number>();
  for (const result of results) byStatus.set(result.status, (byStatus.get(result.status) ?? 0) + 1);
  process.stdout.write(
    `${kind}: ${[...byStatus].map(([status, n]) => `${n} × ${status === 0 ? 'no answer' : status}`).join(', ')}\n`,
  );
  if (results.some((result) => result.status !== 200)) process.exitCode = 1;
}

const command = positionals[0];
if (values.help === true || command === undefined) {
  process.stdout.write(`${USAGE}\n`);
} else if (command === 'serve') {
  await serve();
} else if (command === 'activate' || command === 'deactivate') {
  await drive(command);
} else {
  fail(`unknown command ${command}`);
}
