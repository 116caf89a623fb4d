// A real browser (Debian's Chromium, driven by playwright-core) logs in to Bull Board on the
// operations service, sees the system's queues, opens the approval queue with the job
// a Fortellis activation left there, and saves a screenshot as a test artifact.
import { mkdir } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser } from 'playwright-core';
import { QUEUE_NAMES } from '@fortellis-admin/contracts';
import { FortellisCaller, startSimulator, type Simulator } from '@fortellis-admin/simulator';
import {
  REPO_ROOT,
  createTestNamespace,
  freePort,
  startService,
  type ManagedProcess,
} from '@fortellis-admin/test-support';
import { isolatedServiceEnv } from '@fortellis-admin/test-support/in-vitest';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = `${REPO_ROOT}test-artifacts`;
const TOKEN = 'browser-operator-token-0123456789';
let sim: Simulator;
let ingress: ManagedProcess;
let operations: ManagedProcess;
let browser: Browser;
let ingressUrl: string;
let opsUrl: string;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `no Chromium at ${CHROMIUM}: run \`npm run infra:install\` (Debian's chromium)`,
    );
  }
  sim = await startSimulator();
  const ns = createTestNamespace('e2e-board');
  const [port, opsPort] = [await freePort(), await freePort()];
  const env = {
    ...sim.env(),
    ...isolatedServiceEnv(ns),
    PORT: String(port),
    OPS_PORT: String(opsPort),
    OPS_API_TOKENS: `dana=${TOKEN}`,
  };
  ingress = await startService('ingress', env);
  operations = await startService('operations', env);
  ingressUrl = `http://127.0.0.1:${port}`;
  opsUrl = `http://127.0.0.1:${opsPort}`;
  // The flags keep a headless Chromium from reaching for Google's hosts on a closed network.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
  await mkdir(ARTIFACTS, { recursive: true });
});

afterAll(async () => {
  await browser?.close();
  await operations?.stop();
  await ingress?.stop();
  await sim?.stop();
});

describe('Bull Board in a real browser', () => {
  it('logs in without the token in any URL, lists every queue, and shows a waiting activation', async () => {
    // One activation through the Fortellis-facing port; no worker runs, so it waits in its queue.
    const caller = new FortellisCaller({
      adminApiUrl: ingressUrl,
      token: () => sim.identity.mint(sim.providerClient.clientId),
      seed: 77,
    });
    const [activation] = await caller.activateMany({ count: 1 });
    await caller.close();

    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    const visited: string[] = [];
    page.on('request', (request) => visited.push(request.url()));

    const first = await page.goto(`${opsUrl}/ops/queues`);
    expect(first?.status()).toBe(401);
    await page.getByLabel('Operator token').fill(TOKEN);
    await Promise.all([
      page.waitForURL(`${opsUrl}/ops/queues`),
      page.getByRole('button', { name: 'Log in' }).click(),
    ]);

    for (const name of Object.values(QUEUE_NAMES)) {
      await expect.poll(() => page.getByText(name, { exact: true }).first().isVisible()).toBe(true);
    }
    const session = (await context.cookies()).find(
      (cookie) => cookie.name === 'fortellis_ops_session',
    );
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/ops' });
    expect(visited.length).toBeGreaterThan(2);
    expect(visited.filter((url) => url.includes(TOKEN))).toEqual([]);
    // The overview has loaded the queues' counts: the approval queue's card shows its one job.
    await expect
      .poll(() => page.getByText('1 Job', { exact: true }).first().isVisible())
      .toBe(true);
    await expect.poll(() => page.getByText('Loading').count()).toBe(0);
    await page.screenshot({ path: `${ARTIFACTS}/queue-board.png`, fullPage: true });

    // The approval queue holds the activation's job, found by its connection id.
    await page.goto(`${opsUrl}/ops/queues/queue/${QUEUE_NAMES.approval}?status=waiting`);
    await expect
      .poll(() => page.getByText(activation!.connectionId).first().isVisible(), {
        timeout: 15_000,
      })
      .toBe(true);
    await page.screenshot({ path: `${ARTIFACTS}/queue-board-approval.png`, fullPage: true });
    await context.close();
  });
});
