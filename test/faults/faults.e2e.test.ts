// The fault suite on one Redis: each scenario runs the real services (two ingress replicas behind
// a front, two replicas of each worker) against the file's Redis and MongoDB-wire server and the
// simulator, injects one fault into a paced run of activations and deactivations, lets the system
// settle, and holds it to the product's promise: every call answered 200 happens exactly once,
// every call answered otherwise never happens, and nothing is left stuck.
import { setTimeout as delay } from 'node:timers/promises';
import { describe } from 'vitest';
import { runScenarios, type Scenario } from './scenario.ts';

const SCENARIOS: Scenario<'single'>[] = [
  {
    name: 'Redis stalled 5 s (SIGSTOP, SIGCONT)',
    allAcknowledged: true,
    fault: async ({ infra: { redis } }) => {
      redis.pause();
      await delay(5000);
      redis.resume();
    },
  },
  {
    name: 'Redis stalled 30 s (SIGSTOP, SIGCONT)',
    allAcknowledged: false,
    fault: async ({ infra: { redis } }) => {
      redis.pause();
      await delay(30_000);
      redis.resume();
    },
  },
  {
    name: 'Redis kill -9 and restart, three times',
    allAcknowledged: true,
    fault: async ({ infra: { redis } }) => {
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
    fault: async ({ infra: { mongo } }) => {
      await mongo.kill();
      await delay(2000);
      await mongo.restart();
    },
  },
  {
    name: 'MongoDB-wire server stalled 5 s (SIGSTOP, SIGCONT)',
    allAcknowledged: true,
    fault: async ({ infra: { mongo } }) => {
      mongo.pause();
      await delay(5000);
      mongo.resume();
    },
  },
  {
    name: 'callback endpoint 5xx and timeouts for 10 s',
    allAcknowledged: true,
    fault: async ({ infra: { sim } }) => {
      sim.faults.add('callback', { kind: 'status', status: 503 }, Infinity);
      await delay(5000);
      sim.faults.clear('callback');
      sim.faults.add('callback', { kind: 'delay', ms: 3000 }, Infinity);
      await delay(5000);
      sim.faults.clear('callback');
    },
  },
  {
    name: 'backend provisioning 5xx and timeouts for 10 s',
    allAcknowledged: true,
    fault: async ({ infra: { sim } }) => {
      sim.faults.add('provision', { kind: 'status', status: 503 }, Infinity);
      await delay(5000);
      sim.faults.clear('provision');
      sim.faults.add('provision', { kind: 'delay', ms: 3000 }, Infinity);
      await delay(5000);
      sim.faults.clear('provision');
    },
  },
  {
    name: 'status API down for 10 s',
    allAcknowledged: true,
    fault: async ({ infra: { sim } }) => {
      sim.faults.add('status', { kind: 'status', status: 503 }, Infinity);
      await delay(10_000);
      sim.faults.clear('status');
    },
  },
  {
    name: 'callback token endpoint down for 10 s',
    allAcknowledged: true,
    fault: async ({ infra: { sim } }) => {
      // The cached token is refused once, so every callback needs a new one while it is down.
      sim.faults.add('token', { kind: 'status', status: 503 }, Infinity);
      sim.faults.add('callback', { kind: 'status', status: 401 }, 1);
      await delay(10_000);
      sim.faults.clear('token');
    },
  },
  {
    name: 'approval worker replicas 0 then 1 SIGKILLed and restarted',
    allAcknowledged: true,
    fault: async (stack) => {
      for (let round = 0; round < 2; round += 1) {
        await stack.killAndRestart('approval-worker', round);
        await delay(1500);
      }
    },
  },
  {
    name: 'deprovision worker replicas 0 then 1 SIGKILLed and restarted',
    allAcknowledged: true,
    fault: async (stack) => {
      for (let round = 0; round < 2; round += 1) {
        await stack.killAndRestart('deprovision-worker', round);
        await delay(1500);
      }
    },
  },
  {
    name: 'JWKS down for the whole run',
    allAcknowledged: true,
    fault: async ({ infra: { sim } }) => {
      sim.faults.add('jwks', { kind: 'status', status: 503 }, Infinity);
      await Promise.resolve();
    },
  },
];

describe('the promise under faults', () => {
  runScenarios('single', 7000, SCENARIOS);
});
