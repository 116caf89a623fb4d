// The fault suite: each scenario runs the three real services against a private Redis and
// MongoDB-wire server and the simulator, injects one fault into a paced run of activations and deactivations,
// lets the system settle, and holds it to the product's promise: every call answered 200 happens
// exactly once, every call answered otherwise never happens, and nothing is left stuck.
import { setTimeout as delay } from 'node:timers/promises';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
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
    name: 'MongoDB-wire server kill -9 and restart',
    allAcknowledged: true,
    fault: async ({ mongo }) => {
      await mongo.kill();
      await delay(2000);
      await mongo.restart();
    },
  },
  {
    name: 'MongoDB-wire server stalled 5 s (SIGSTOP, SIGCONT)',
    allAcknowledged: true,
    fault: async ({ mongo }) => {
      mongo.pause();
      await delay(5000);
      mongo.resume();
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
    name: 'backend provisioning 5xx and timeouts for 20 s',
    allAcknowledged: true,
    fault: async ({ sim }) => {
      sim.faults.add('provision', { kind: 'status', status: 503 }, Infinity);
      await delay(10_000);
      sim.faults.clear('provision');
      sim.faults.add('provision', { kind: 'delay', ms: 3000 }, Infinity);
      await delay(10_000);
      sim.faults.clear('provision');
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
    name: 'callback token endpoint down for 20 s',
    allAcknowledged: true,
    fault: async ({ sim }) => {
      // The cached token is refused once, so every callback needs a new one while it is down.
      sim.faults.add('token', { kind: 'status', status: 503 }, Infinity);
      sim.faults.add('callback', { kind: 'status', status: 401 }, 1);
      await delay(20_000);
      sim.faults.clear('token');
    },
  },
  {
    name: 'approval worker SIGKILLed and restarted, twice',
    allAcknowledged: true,
    fault: async (stack) => {
      for (let round = 0; round < 2; round += 1) {
        await stack.killAndRestart('approval-worker');
        await delay(1500);
      }
    },
  },
  {
    name: 'deprovision worker SIGKILLed and restarted, twice',
    allAcknowledged: true,
    fault: async (stack) => {
      for (let round = 0; round < 2; round += 1) {
        await stack.killAndRestart('deprovision-worker');
        await delay(1500);
      }
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
        stack = await startFaultStack(`faults${index}`);
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
        // At most one call in doubt per job a killed worker was running (WORKER_CONCURRENCY 8).
        expect(verdict.repeatedInDoubt.length).toBeLessThanOrEqual(stack.kills.length * 8);
        expect(verdict.phantom).toEqual([]);
        expect(verdict.stuck).toEqual([]);
        expect(verdict.unanswered).toBe(0);
        if (scenario.allAcknowledged) expect(verdict.refused).toBe(0);
      },
    );
  });
});
