// The fault suite: each scenario runs the three real services against real Redis, the MongoDB-wire
// server and the simulator, injects one fault into a paced run of activations and deactivations,
// lets the system settle, and holds it to the product's promise: every call answered 200 happens
// exactly once, every call answered otherwise never happens, and nothing is left stuck.
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, afterEach, describe, expect, inject, it } from 'vitest';
import {
  judge,
  pacedRun,
  startFaultStack,
  VERDICT_HEADER,
  verdictRow,
  type FaultStack,
} from './fault-run.ts';

interface Scenario {
  name: string;
  fault: (stack: FaultStack) => Promise<void>;
  /** Every call is answered 200 when the fault lasts less than the ingress's hold window. */
  allAcknowledged: boolean;
}

const SCENARIOS: Scenario[] = [
  {
    name: 'Redis stalled 5 s (SIGSTOP, SIGCONT)',
    allAcknowledged: true,
    fault: async ({ redis }) => {
      redis.pause();
      await delay(5000);
      redis.resume();
    },
  },
  {
    name: 'Redis stalled 30 s (SIGSTOP, SIGCONT)',
    allAcknowledged: false,
    fault: async ({ redis }) => {
      redis.pause();
      await delay(30_000);
      redis.resume();
    },
  },
  {
    name: 'Redis kill -9 and restart, three times',
    allAcknowledged: true,
    fault: async ({ redis }) => {
      for (let round = 0; round < 3; round += 1) {
        await redis.kill();
        await delay(1000);
        await redis.restart();
        await delay(1500);
      }
    },
  },
  {
    name: 'callback endpoint 5xx and timeouts for 20 s',
    allAcknowledged: true,
    fault: async ({ sim }) => {
      sim.faults.add('callback', { kind: 'status', status: 503 }, Infinity);
      await delay(10_000);
      sim.faults.clear('callback');
      sim.faults.add('callback', { kind: 'delay', ms: 3000 }, Infinity);
      await delay(10_000);
      sim.faults.clear('callback');
    },
  },
  {
    name: 'status API down for 20 s',
    allAcknowledged: true,
    fault: async ({ sim }) => {
      sim.faults.add('status', { kind: 'status', status: 503 }, Infinity);
      await delay(20_000);
      sim.faults.clear('status');
    },
  },
  {
    name: 'JWKS down for the whole run',
    allAcknowledged: true,
    fault: async ({ sim }) => {
      sim.faults.add('jwks', { kind: 'status', status: 503 }, Infinity);
      await Promise.resolve();
    },
  },
];

const rows: string[] = [];
let stack: FaultStack | undefined;
afterEach(async () => {
  await stack?.stop();
  stack = undefined;
});
afterAll(() => {
  console.log(['', VERDICT_HEADER, ...rows].join('\n'));
});

describe('the promise under faults', () => {
  SCENARIOS.forEach((scenario, index) => {
    it(
      `${scenario.name}: no call lost, duplicated or phantom, nothing stuck`,
      { timeout: 240_000 },
      async () => {
        stack = await startFaultStack(`faults${index}`, inject('mongoUrl'));
        const run = await pacedRun(stack, {
          seed: 7000 + index,
          activate: 100,
          deactivate: 40,
          rate: 20,
          faultAfterMs: 1500,
          fault: () => scenario.fault(stack as FaultStack),
        });
        const verdict = await judge(stack, run);
        rows.push(verdictRow(scenario.name, verdict));
        expect(verdict.lost).toEqual([]);
        expect(verdict.duplicated).toEqual([]);
        expect(verdict.phantom).toEqual([]);
        expect(verdict.stuck).toEqual([]);
        expect(verdict.unanswered).toBe(0);
        if (scenario.allAcknowledged) expect(verdict.refused).toBe(0);
      },
    );
  });
});
