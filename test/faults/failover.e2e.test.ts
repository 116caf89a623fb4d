// Redis failovers under load: the services on a primary with a replica behind three Sentinels,
// and on a cluster of three primaries with a replica each; the primary is lost mid-run and a
// replica promoted. The ingress answers 200 only once a replica holds the job (ACK_REPLICAS=1),
// so an acknowledged call survives the loss of the primary that took it.
import { describe, expect } from 'vitest';
import { ask, parseInfo } from '@fortellis-admin/test-support';
import type { FaultStack } from './fault-stack.ts';
import { until } from './paced-run.ts';
import { runScenarios } from './scenario.ts';

const ACK_REPLICAS = { env: { ACK_REPLICAS: '1' } };

/** Logs a step of a failover with its time since the stack was up, to read beside a verdict. */
const mark = (stack: FaultStack, what: string) =>
  console.log(`+${Date.now() - stack.startedAt} ms: ${what}`);

/** Waits until the server on `port` says it is a replica (Sentinel demotes a returning primary). */
const demoted = (port: number) =>
  until(
    `127.0.0.1:${port} runs as a replica`,
    async () => parseInfo(String(await ask(port, 'INFO', ['replication']))).get('role') === 'slave',
    30_000,
  );

describe('the promise across a Sentinel failover', () => {
  runScenarios('sentinel', 7800, [
    {
      name: 'Sentinel: the primary kill -9ed, a replica promoted',
      allAcknowledged: true,
      stack: ACK_REPLICAS,
      fault: async (stack) => {
        const { redis } = stack.infra;
        const primary = await redis.currentPrimary();
        await primary.kill();
        mark(stack, `primary ${primary.port} killed`);
        const promoted = await redis.waitForFailover(primary.port, 20_000);
        mark(stack, `${promoted.port} promoted`);
        await primary.restart();
        await demoted(primary.port);
        mark(stack, `${primary.port} back as a replica`);
      },
    },
    {
      name: 'Sentinel: the primary stalled until replaced, then resumed',
      allAcknowledged: true,
      stack: ACK_REPLICAS,
      fault: async (stack) => {
        const { redis } = stack.infra;
        const primary = await redis.currentPrimary();
        primary.pause();
        mark(stack, `primary ${primary.port} stopped`);
        const promoted = await redis.waitForFailover(primary.port, 20_000);
        mark(stack, `${promoted.port} promoted`);
        // It comes back believing it is the primary, until Sentinel turns it into a replica: what
        // it took meanwhile was never on a replica, so never acknowledged (0 lost says so).
        primary.resume();
        await demoted(primary.port);
        mark(stack, `${primary.port} back as a replica`);
        expect(primary.state()).toBe('running');
      },
    },
  ]);
});

describe('the promise across a cluster failover', () => {
  runScenarios('cluster', 7900, [
    {
      name: "cluster: the queues' primary kill -9ed, its replica promoted",
      allAcknowledged: true,
      stack: ACK_REPLICAS,
      fault: async (stack) => {
        const { redis } = stack.infra;
        // Every key of the scenario carries the hash tag {QUEUE_PREFIX}: one slot, one primary.
        const primary = await redis.primaryOfKey(`{${stack.namespace.queuePrefix}}`);
        await primary.kill();
        mark(stack, `primary ${primary.port} killed`);
        const promoted = await redis.waitForPromotion(primary.port, 30_000);
        mark(stack, `${promoted.port} promoted`);
        await primary.restart();
        await redis.waitForClusterOk(30_000);
      },
    },
  ]);
});
