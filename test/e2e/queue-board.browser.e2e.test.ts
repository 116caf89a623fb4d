// A real browser (Debian's Chromium, driven by playwright-core) logs in to Bull Board on the
// operations service, sees the system's queues, opens the approval queue with the job
// a Fortellis activation left there, and saves a screenshot as a test artifact.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser } from 'playwright-core';
import { QUEUE_NAMES } from '@fortellis-admin/contracts';
import { FortellisCaller, startSimulator, type Simulator } from '@fortellis-admin/simulator';
import { startService, type ManagedProcess } from '@fortellis-admin/test-support';
import { ARTIFACTS, launchChromium } from '@fortellis-admin/test-support/browser';
import { stackEnv } from '@fortellis-admin/test-support/in-vitest';

const TOKEN = 'browser-admin-Hk3Lm9Qp2Wx7Zr4Tv8Bn1';
let sim: Simulator;
let ingress: ManagedProcess;
let operations: ManagedProcess;
let browser: Browser;
let ingressUrl: string;
let opsUrl: string;

beforeAll(async () => {
  sim = await startSimulator();
  const stack = await stackEnv(sim.env(), 'e2e-board', {
    name: 'dana',
    role: 'admin',
    token: TOKEN,
  });
  ({ ingressUrl, opsUrl } = stack);
  ingress = await startService('ingress', stack.env);
  operations = await startService('operations', stack.env);
  browser = await launchChromium();
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
