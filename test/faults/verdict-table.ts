// The table a fault file prints when it ends: per scenario, the verdict's counts and what the
// scenario cost (set-up, run, settling), in seconds.
import type { Verdict } from './verdict.ts';

/** One row of a suite's table: the verdict's counts and what the scenario cost, in seconds. */
export function verdictRow(
  scenario: string,
  verdict: Verdict,
  cost: { setUpMs: number; runMs: number },
): string {
  const seconds = (ms: number) => (ms / 1000).toFixed(1).padStart(6);
  return [
    scenario.padEnd(58),
    String(verdict.calls).padStart(5),
    String(verdict.ok).padStart(5),
    String(verdict.refused).padStart(8),
    String(verdict.lost.length).padStart(5),
    String(verdict.duplicated.length).padStart(10),
    String(verdict.repeatedInDoubt.length).padStart(8),
    String(verdict.phantom.length).padStart(7),
    String(verdict.stuck.length).padStart(5),
    seconds(cost.setUpMs),
    seconds(cost.runMs),
    seconds(verdict.settleMs),
  ].join(' ');
}

export const VERDICT_HEADER = [
  'scenario'.padEnd(58),
  'calls'.padStart(5),
  '200s'.padStart(5),
  'non-200s'.padStart(8),
  'lost'.padStart(5),
  'duplicated'.padStart(10),
  'in doubt'.padStart(8),
  'phantom'.padStart(7),
  'stuck'.padStart(5),
  'set-up'.padStart(6),
  'run'.padStart(6),
  'settle'.padStart(6),
].join(' ');
