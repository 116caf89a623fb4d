// Network faults from a real proxy: every service replica reaches Redis, MongoDB and the outside
// parties (the simulator) through links of its own in Toxiproxy, and a scenario slows, cuts,
// resets or half-closes them during the paced run, then judges as the other fault scenarios do.
import { setTimeout as delay } from 'node:timers/promises';
import { describe, expect } from 'vitest';
import type { FaultStack } from './fault-stack.ts';
import { runScenarios } from './scenario.ts';
import type { ServiceLinks } from './service-links.ts';

/** When the latency toxic was on (ms since the epoch). */
const slow = { from: 0, to: 0 };

const linksOf = (stack: FaultStack): ServiceLinks => {
  const { links } = stack.infra;
  if (links === undefined) throw new Error('the file runs without proxies');
  return links;
};

describe('the promise under network faults', () => {
  runScenarios(
    'single',
    7600,
    [
      {
        name: 'every link 500 ms (± 100 ms) slower for 10 s',
        allAcknowledged: true,
        fault: async (stack) => {
          const links = linksOf(stack).all();
          await Promise.all(links.map((link) => link.latency(500, 100)));
          slow.from = Date.now();
          await delay(10_000);
          slow.to = Date.now();
          await Promise.all(links.map((link) => link.clear()));
        },
        alsoExpect: (_stack, _verdict, run) => {
          // The calls went through the proxies: each one made while every Redis answer came 400 ms
          // late at least took that long (the ingress waits for Redis before it answers).
          const during = run.activations.filter(
            (r) => r.answeredAt - r.latencyMs > slow.from && r.answeredAt < slow.to,
          );
          expect(during.length).toBeGreaterThan(10);
          expect(Math.min(...during.map((r) => r.latencyMs))).toBeGreaterThanOrEqual(400);
        },
      },
      {
        name: 'a replica of each worker cut from MongoDB for 10 s',
        allAcknowledged: true,
        fault: async (stack) => {
          const links = linksOf(stack);
          const cut = ['approval-worker-0', 'deprovision-worker-0'].map((slot) =>
            links.link(slot, 'mongo'),
          );
          await Promise.all(cut.map((link) => link.partition()));
          await delay(10_000);
          await Promise.all(cut.map((link) => link.heal()));
        },
      },
      {
        name: 'Redis and MongoDB connections reset mid-write, 5 times',
        allAcknowledged: true,
        fault: async (stack) => {
          const links = [...linksOf(stack).all('redis'), ...linksOf(stack).all('mongo')];
          // The answers in flight are lost (the commands landed); new connections wait it out.
          for (let round = 0; round < 5; round += 1) {
            await Promise.all(links.map((link) => link.resetPeer()));
            await delay(300);
            await Promise.all(links.map((link) => link.clear()));
            await delay(1200);
          }
        },
      },
      {
        name: 'slow-closing peers: Redis, then MongoDB, kill -9 seen 5 s late',
        allAcknowledged: true,
        fault: async (stack) => {
          const { redis, mongo } = stack.infra;
          const links = linksOf(stack).all();
          await Promise.all(links.map((link) => link.slowClose(5000)));
          await redis.kill();
          await delay(1000);
          await redis.restart();
          await delay(3000);
          await mongo.kill();
          await delay(1000);
          await mongo.restart();
          await delay(5000);
          await Promise.all(links.map((link) => link.clear()));
        },
      },
    ],
    { proxies: true },
  );
});
