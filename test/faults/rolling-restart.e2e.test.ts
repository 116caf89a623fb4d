// A rolling restart of every Deployment during a paced run, as `kubectl rollout restart` does it:
// two ingress replicas behind a front that sends calls only to replicas whose /ready says yes
// (a Service's endpoints), each replaced by a new one that is up first, then the old one sent
// SIGTERM; then each worker replica the same way. Nothing may be lost, duplicated or refused: the
// ingress turns not-ready first and keeps answering while the front stops sending to it, then
// closes and finishes its calls in flight; a worker finishes its jobs in flight before it exits.
import { describe, expect } from 'vitest';
import { runScenarios } from './scenario.ts';

describe('upgrades without loss', () => {
  runScenarios('single', 7400, [
    {
      name: 'a rolling restart of every service',
      allAcknowledged: true,
      faultAfterMs: 1000,
      stack: { drainMs: 2500 },
      fault: (stack) => stack.rollingRestart(),
      alsoExpect: (_stack, verdict) => {
        // Graceful stops finish their calls: no call is ever left in doubt.
        expect(verdict.repeatedInDoubt).toEqual([]);
        expect(verdict.ok).toBe(140);
      },
    },
  ]);
});
