// A rolling restart of every Deployment during a paced run, as `kubectl rollout restart` does it:
// two ingress replicas behind a front that sends calls only to replicas whose /ready says yes
// (a Service's endpoints), each replaced by a new one that is up first, then the old one sent
// SIGTERM; then each worker the same way. Nothing may be lost, duplicated or refused: the ingress
// turns not-ready first and keeps answering while the front stops sending to it, then closes and
// finishes its calls in flight; a worker finishes its jobs in flight before it exits.
import { afterEach, describe, expect, it } from 'vitest';
import { judge, pacedRun, startFaultStack, type FaultStack } from './fault-run.ts';

let stack: FaultStack | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});

describe('upgrades without loss', () => {
  it(
    'a rolling restart of every service loses, duplicates and refuses nothing',
    { timeout: 240_000 },
    async () => {
      const running = await startFaultStack('rolling', { ingressReplicas: 2, drainMs: 2500 });
      stack = running;
      const run = await pacedRun(running, {
        seed: 7400,
        activate: 100,
        deactivate: 40,
        rate: 20,
        faultAfterMs: 1000,
        fault: () => running.rollingRestart(),
      });
      const verdict = await judge(running, run);
      expect(verdict.lost).toEqual([]);
      expect(verdict.duplicated).toEqual([]);
      // Graceful stops finish their calls: no call is ever left in doubt.
      expect(verdict.repeatedInDoubt).toEqual([]);
      expect(verdict.phantom).toEqual([]);
      expect(verdict.stuck).toEqual([]);
      expect(verdict.unanswered).toBe(0);
      expect(verdict.refused).toBe(0);
      expect(verdict.ok).toBe(140);
    },
  );
});
