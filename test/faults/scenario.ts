// How a fault file runs its scenarios: one shared infrastructure per file, and per scenario a stack
// of its own, a paced run with the fault, the verdict held to the promise, and a row of the table
// with what the scenario cost (set-up, run, settling), printed when the file ends.
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import {
  startFaultInfra,
  type FaultInfra,
  type FaultInfraOptions,
  type RedisKind,
} from './fault-infra.ts';
import { startFaultStack, type FaultStack, type FaultStackOptions } from './fault-stack.ts';
import { pacedRun, type ScenarioRun } from './paced-run.ts';
import { judge, type Verdict } from './verdict.ts';
import { VERDICT_HEADER, verdictRow } from './verdict-table.ts';

export interface Scenario<K extends RedisKind> {
  name: string;
  fault: (stack: FaultStack<K>) => Promise<void>;
  /**
   * Every call is answered 200: the fault is shorter than the ingress's hold window (or, for a
   * failover, than the hold window once the new primary is found).
   */
  allAcknowledged: boolean;
  /** Ms into the paced run the fault starts. Default 1500. */
  faultAfterMs?: number;
  stack?: FaultStackOptions;
  /** Judged after the common rules (a failover's own checks, say). */
  alsoExpect?: (stack: FaultStack<K>, verdict: Verdict, run: ScenarioRun) => Promise<void> | void;
}

/**
 * Declares one test per scenario, on one infrastructure of `kind` started before the first and
 * healed after each. `seedBase` keeps the files' connection ids apart.
 */
export function runScenarios<K extends RedisKind>(
  kind: K,
  seedBase: number,
  scenarios: readonly Scenario<K>[],
  infraOptions: FaultInfraOptions = {},
): void {
  const rows: string[] = [];
  let infra: FaultInfra<K> | undefined;
  let stack: FaultStack<K> | undefined;
  beforeAll(async () => {
    infra = await startFaultInfra(kind, infraOptions);
  }, 120_000);
  afterEach(async () => {
    await stack?.stop();
    stack = undefined;
    await infra?.heal();
  }, 120_000);
  afterAll(async () => {
    await infra?.stop();
    console.log(['', VERDICT_HEADER, ...rows].join('\n'));
  }, 60_000);

  scenarios.forEach((scenario, index) => {
    it(
      `${scenario.name}: no call lost, duplicated or phantom, nothing stuck`,
      { timeout: 240_000 },
      async () => {
        if (infra === undefined) throw new Error('the infrastructure did not start');
        const began = Date.now();
        const running = await startFaultStack(infra, `f${seedBase + index}`, scenario.stack);
        stack = running;
        const ran = Date.now();
        const run = await pacedRun(running, {
          seed: seedBase + index,
          activate: 100,
          deactivate: 40,
          rate: 20,
          faultAfterMs: scenario.faultAfterMs ?? 1500,
          fault: () => scenario.fault(running),
        });
        const runMs = Date.now() - ran;
        const verdict = await judge(running, run);
        rows.push(verdictRow(scenario.name, verdict, { setUpMs: ran - began, runMs }));
        try {
          expectThePromise(running, verdict, scenario.allAcknowledged);
          await scenario.alsoExpect?.(running, verdict, run);
        } catch (error) {
          // What the services complained of, and when the refusals came: to read beside the failure.
          console.log(`${scenario.name}: refusals ${refusals(running, run)}; the services logged`);
          console.log([...running.complaints()].map(([what, n]) => `  ${n} × ${what}`).join('\n'));
          throw error;
        }
      },
    );
  });
}

/** The non-200 answers by status and body, with when the first and the last came (since the stack was up). */
function refusals(stack: FaultStack, run: ScenarioRun): string {
  const refused = [...run.activations, ...run.deactivations].filter((r) => r.status !== 200);
  if (refused.length === 0) return 'none';
  const byAnswer = new Map<string, number[]>();
  for (const r of refused) {
    const answer = `${r.status} ${JSON.stringify(r.body ?? r.error ?? '').slice(0, 100)}`;
    byAnswer.set(answer, [...(byAnswer.get(answer) ?? []), r.answeredAt - stack.startedAt]);
  }
  return [...byAnswer]
    .map(([answer, at]) => `${at.length} × ${answer} at +${Math.min(...at)}…+${Math.max(...at)} ms`)
    .join(', ');
}

/** 0 lost, duplicated, phantom, stuck; in doubt only at kills; refused only past the hold window. */
export function expectThePromise(
  stack: FaultStack,
  verdict: Verdict,
  allAcknowledged: boolean,
): void {
  expect(verdict.lost).toEqual([]);
  expect(verdict.duplicated).toEqual([]);
  // At most one call in doubt per job a killed worker replica was running (WORKER_CONCURRENCY 8).
  expect(verdict.repeatedInDoubt.length).toBeLessThanOrEqual(stack.kills.length * 8);
  expect(verdict.phantom).toEqual([]);
  expect(verdict.stuck).toEqual([]);
  expect(verdict.unanswered).toEqual([]);
  if (allAcknowledged) expect(verdict.refused).toBe(0);
}
