// The load of a fault scenario: a warm-up of activations (no fault), then new activations and the
// deactivations of the warm-up connections, both paced, with the fault injected part-way in.
import { setTimeout as delay } from 'node:timers/promises';
import { FortellisCaller, type CallResult } from '@fortellis-admin/simulator';
import type { FaultStack } from './fault-stack.ts';

export interface ScenarioRun {
  activations: CallResult[];
  deactivations: CallResult[];
}

export interface PacedRunOptions {
  seed: number;
  activate: number;
  deactivate: number;
  rate: number;
  faultAfterMs: number;
  fault: () => Promise<void>;
}

/**
 * Warms up by activating `deactivate` connections (no fault), then sends `activate` new
 * activations and deactivates the warm-up connections, both paced at `rate` calls per second, and
 * injects the fault `faultAfterMs` into that run. Resolves when every call has been answered and
 * the fault has ended.
 */
export async function pacedRun(stack: FaultStack, options: PacedRunOptions): Promise<ScenarioRun> {
  const { sim } = stack.infra;
  const caller = new FortellisCaller({
    adminApiUrl: stack.ingressUrl,
    token: () => sim.identity.mint(sim.providerClient.clientId),
    seed: options.seed,
    // Fortellis documents no timeout: give the ingress time to learn what a stalled Redis did.
    timeoutMs: 60_000,
  });
  try {
    const warmUp = await caller.activateMany({ count: options.deactivate, concurrency: 8 });
    const warmIds = warmUp.filter((r) => r.status === 200).map((r) => r.connectionId);
    if (warmIds.length !== options.deactivate)
      throw new Error(`${options.deactivate - warmIds.length} warm-up activations were refused`);
    await until(
      'the warm-up connections are accepted',
      async () =>
        (await stack.connections.countDocuments({
          _id: { $in: warmIds.map((id) => id.toLowerCase()) },
          state: 'accepted',
        })) === warmIds.length,
      60_000,
    );
    const activations = caller.activateMany({ count: options.activate, rate: options.rate });
    const deactivations = caller.deactivateMany(warmIds, { rate: options.rate });
    const fault = delay(options.faultAfterMs).then(options.fault);
    const [a, d] = await Promise.all([activations, deactivations, fault]);
    return { activations: a, deactivations: d };
  } finally {
    await caller.close();
  }
}

/** Polls `check` every 200 ms until it says yes; throws after `timeoutMs`. */
export async function until(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await delay(200);
  }
}
