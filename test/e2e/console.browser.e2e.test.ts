// A real browser (Debian's Chromium, driven by playwright-core) on the operators' connections page:
// logs in, finds an accepted connection by its subscription id, reads its timeline (received,
// decided by the rule, provisioned, acknowledged), suspends it with a reason and watches the
// suspension reach Fortellis, then finds it again by organization id; then retries a callback
// Fortellis refused from its page. The page opens on what needs an operator; a viewer sees it and
// the timelines, but no action button (and the server refuses the action anyway). Ingress,
// operations and the approval worker run as processes against Redis, FerretDB and the simulator.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import {
  ActivationGenerator,
  FortellisCaller,
  startSimulator,
  type Simulator,
} from '@fortellis-admin/simulator';
import { startService, type ManagedProcess } from '@fortellis-admin/test-support';
import { ARTIFACTS, launchChromium } from '@fortellis-admin/test-support/browser';
import { stackEnv } from '@fortellis-admin/test-support/in-vitest';

const TOKEN = 'console-operator-Yu6Io0Pa4Sd9Fg3Hj7';
const VIEWER_TOKEN = 'console-viewer-Tv8Bn1Cy6Df5Gj2Hk3Lm';
let sim: Simulator;
let services: ManagedProcess[] = [];
let browser: Browser;
let ingressUrl: string;
let opsUrl: string;

beforeAll(async () => {
  sim = await startSimulator();
  const stack = await stackEnv(
    sim.env(),
    'e2e-console',
    [
      { name: 'erin', role: 'operator', token: TOKEN },
      { name: 'vic', role: 'viewer', token: VIEWER_TOKEN },
    ],
    { APPROVAL_DEFAULT_ACTION: 'approve' },
  );
  ({ ingressUrl, opsUrl } = stack);
  services = await Promise.all(
    (['ingress', 'operations', 'approval-worker'] as const).map((name) =>
      startService(name, stack.env),
    ),
  );
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  for (const service of services.reverse()) await service.stop();
  await sim?.stop();
});

describe('the connections page in a real browser', () => {
  it('finds a connection by subscription and organization id, shows its timeline, and suspends it', async () => {
    const caller = new FortellisCaller({
      adminApiUrl: ingressUrl,
      token: () => sim.identity.mint(sim.providerClient.clientId),
      seed: 616,
    });
    const activation = new ActivationGenerator(616).next();
    expect((await caller.activate(activation)).status).toBe(200);
    const { connectionId, subscriptionId } = activation;
    await expect
      .poll(
        () =>
          sim.calls('callback').filter((call) => call.params.connectionId === connectionId).length,
        { timeout: 15_000 },
      )
      .toBe(1);

    const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const page = await context.newPage();
    // Script errors, and API answers that failed once logged in (the favicon aside).
    const problems: string[] = [];
    let loggedIn = false;
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('response', (response) => {
      if (loggedIn && response.status() >= 400 && !response.url().endsWith('/favicon.ico'))
        problems.push(`${response.status()} ${response.url()}`);
    });

    const first = await page.goto(`${opsUrl}/ops/console?q=${subscriptionId}`);
    expect(first?.status()).toBe(401);
    await page.getByLabel('Operator token').fill(TOKEN);
    await Promise.all([
      page.waitForURL(`${opsUrl}/ops/console?q=${subscriptionId}`),
      page.getByRole('button', { name: 'Log in' }).click(),
    ]);
    loggedIn = true;

    // The search by subscription id lists the connection; its link opens the timeline.
    await page.getByRole('link', { name: connectionId }).click();
    await page.waitForURL(`${opsUrl}/ops/console?id=${connectionId}`);
    await expect.poll(() => page.locator('#state').textContent()).toBe('accepted');
    const events = () =>
      page.locator('tr[data-event]').evaluateAll((rows) => rows.map((r) => r.dataset.event));
    expect(await events()).toEqual([
      'activate_called',
      'activation_received',
      'decided_approve',
      'provisioned',
      'callback_accepted_acknowledged',
    ]);
    await expect
      .poll(() => page.getByText('Fortellis acknowledged the accepted callback').isVisible())
      .toBe(true);
    await page.screenshot({ path: `${ARTIFACTS}/console-timeline.png`, fullPage: true });

    // Suspend: the reason goes to Fortellis as the rejected callback's error.
    await page.getByLabel('Reason').fill('Unpaid invoices');
    await page.getByRole('button', { name: 'Suspend (stop traffic)' }).click();
    await expect
      .poll(() => page.locator('#state').textContent(), { timeout: 15_000 })
      .toBe('suspended');
    expect((await events()).slice(-2)).toEqual(['suspension_requested', 'suspension_acknowledged']);
    await expect
      .poll(() => page.locator('#suspension').textContent())
      .toContain('Suspended by ops:erin');
    const sent = sim.calls('callback').filter((call) => call.params.connectionId === connectionId);
    expect(sent.map((call) => call.body)).toMatchObject([
      { status: 'accepted' },
      { status: 'rejected', error: 'Unpaid invoices' },
    ]);
    await page.screenshot({ path: `${ARTIFACTS}/console-suspended.png`, fullPage: true });

    // The organization id, typed into the search form, finds it too.
    await page
      .getByLabel('Connection, subscription or organization id')
      .fill(activation.organizationInfo.id);
    await page.getByRole('button', { name: 'Find' }).click();
    await page.waitForURL(/\/ops\/console\?q=/);
    await expect
      .poll(() => page.getByRole('link', { name: connectionId }).isVisible(), { timeout: 10_000 })
      .toBe(true);
    expect(problems).toEqual([]);

    // A callback Fortellis refused: the page shows the failed attempt and offers the retry.
    const refused = new ActivationGenerator(617).next();
    sim.faults.failNext('callback', 400);
    expect((await caller.activate(refused)).status).toBe(200);
    // Opened once the refusal has happened (an unknown connection is a 404 the page does not retry).
    await expect
      .poll(
        () =>
          sim
            .calls('callback')
            .filter((call) => call.params.connectionId === refused.connectionId)
            .map((call) => call.status),
        { timeout: 15_000 },
      )
      .toEqual([400]);
    await page.goto(`${opsUrl}/ops/console?id=${refused.connectionId}`);
    await expect
      .poll(() => page.locator('#state').textContent(), { timeout: 15_000 })
      .toBe('callback_failed');
    expect(await page.locator('tr[data-event="callback_failed"].problem').count()).toBe(1);
    await page.getByRole('button', { name: 'Retry what failed' }).click();
    await expect
      .poll(() => page.locator('#state').textContent(), { timeout: 15_000 })
      .toBe('accepted');
    expect((await events()).slice(-2)).toEqual([
      'operator_retry_callback',
      'callback_accepted_acknowledged',
    ]);
    expect(problems).toEqual([]);
    await caller.close();
    await context.close();
  });

  it('opens on what needs an operator; a viewer reads it and the timeline but is offered no action', async () => {
    const caller = new FortellisCaller({
      adminApiUrl: ingressUrl,
      token: () => sim.identity.mint(sim.providerClient.clientId),
      seed: 618,
    });
    const stuck = new ActivationGenerator(618).next();
    sim.faults.failNext('callback', 400);
    expect((await caller.activate(stuck)).status).toBe(200);
    await caller.close();
    await expect
      .poll(
        () =>
          sim
            .calls('callback')
            .filter((call) => call.params.connectionId === stuck.connectionId)
            .map((call) => call.status),
        { timeout: 15_000 },
      )
      .toEqual([400]);

    const login = async (token: string) => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
      const page = await context.newPage();
      const problems: string[] = [];
      page.on('pageerror', (error) => problems.push(error.message));
      expect((await page.goto(`${opsUrl}/ops/console`))?.status()).toBe(401);
      await page.getByLabel('Operator token').fill(token);
      await Promise.all([
        page.waitForURL(`${opsUrl}/ops/console`),
        page.getByRole('button', { name: 'Log in' }).click(),
      ]);
      return { context, page, problems };
    };
    const stuckRow = (page: Page) =>
      page.locator('tr[data-kind="callback_failed"]', { hasText: stuck.connectionId });

    // The viewer: the page opens on the connection whose callback was given up.
    const viewer = await login(VIEWER_TOKEN);
    await expect.poll(() => viewer.page.locator('#whoami').textContent()).toBe('vic · viewer');
    await expect.poll(() => stuckRow(viewer.page).isVisible(), { timeout: 10_000 }).toBe(true);
    await viewer.page.screenshot({ path: `${ARTIFACTS}/console-attention.png`, fullPage: true });
    await stuckRow(viewer.page).getByRole('link').click();
    await viewer.page.waitForURL(`${opsUrl}/ops/console?id=${stuck.connectionId}`);
    await expect.poll(() => viewer.page.locator('#state').textContent()).toBe('callback_failed');
    await expect
      .poll(() => viewer.page.locator('#read-only').textContent())
      .toBe('It accepts retry; your role (viewer) may only read.');
    expect(await viewer.page.locator('.actions button, .actions form').count()).toBe(0);
    await viewer.page.screenshot({ path: `${ARTIFACTS}/console-viewer.png`, fullPage: true });
    // What the page does not offer, the server refuses.
    const forced = await viewer.page.evaluate(async (id) => {
      const response = await fetch(`/ops/connections/${id}/retry`, { method: 'POST' });
      return { status: response.status, body: await response.json() };
    }, stuck.connectionId);
    expect(forced).toMatchObject({ status: 403, body: { error: 'FORBIDDEN_ROLE' } });
    expect(viewer.problems).toEqual([]);
    await viewer.context.close();

    // The operator: the same page offers the retry, which clears the list.
    const operator = await login(TOKEN);
    await expect.poll(() => operator.page.locator('#whoami').textContent()).toBe('erin · operator');
    await expect.poll(() => stuckRow(operator.page).isVisible(), { timeout: 10_000 }).toBe(true);
    await stuckRow(operator.page).getByRole('link').click();
    await operator.page.getByRole('button', { name: 'Retry what failed' }).click();
    await expect
      .poll(() => operator.page.locator('#state').textContent(), { timeout: 15_000 })
      .toBe('accepted');
    await operator.page.goto(`${opsUrl}/ops/console`);
    await expect.poll(() => operator.page.locator('#attention h2').isVisible()).toBe(true);
    expect(await stuckRow(operator.page).count()).toBe(0);
    expect(operator.problems).toEqual([]);
    await operator.context.close();
  });
});
