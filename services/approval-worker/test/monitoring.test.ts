// The approval worker's monitoring listener: /health, /ready and /metrics whose series move when
// work is done.
import { missingMetrics } from '@fortellis-admin/service-kit';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Queue } from 'bullmq';
import { QUEUE_NAMES } from '@fortellis-admin/contracts';
import { ActivationGenerator, startSimulator, type Simulator } from '@fortellis-admin/simulator';
import {
  createTestNamespace,
  freePort,
  publishActivation,
  startService,
  type ManagedProcess,
} from '@fortellis-admin/test-support';

let sim: Simulator;
let worker: ManagedProcess;
let base: string;
const ns = createTestNamespace('monitor');

beforeAll(async () => {
  sim = await startSimulator();
  const port = await freePort();
  worker = await startService('approval-worker', {
    ...sim.env(),
    REDIS_URL: inject('redisUrl'),
    MONGODB_URL: inject('mongoUrl'),
    MONGODB_DATABASE: ns.dbName,
    QUEUE_PREFIX: ns.queuePrefix,
    APPROVAL_DEFAULT_ACTION: 'approve',
    MONITORING_HOST: '127.0.0.1',
    MONITORING_PORT: String(port),
  });
  base = `http://127.0.0.1:${port}`;
});
afterAll(async () => {
  await worker.stop();
  await sim.stop();
});

/** The value of one series in the Prometheus text, or 0 when absent. */
async function metric(name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith(`${name}{`) && labels.split(',').every((label) => l.includes(label)));
  return line === undefined ? 0 : Number(line.split(' ').at(-1));
}

describe('approval worker monitoring', () => {
  it('answers /health and /ready', async () => {
    expect(await (await fetch(`${base}/health`)).json()).toEqual({ status: 'up' });
    const ready = await fetch(`${base}/ready`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', checks: { redis: 'up', mongodb: 'up' } });
  });

  it('counts completed jobs and callback attempts by outcome, and shows queue depth', async () => {
    const completedBefore = await metric(
      'fortellis_admin_jobs_completed_total',
      'queue="approval",job="ActivationReceived"',
    );
    expect(await metric('fortellis_admin_queue_jobs', 'queue="approval",state="waiting"')).toBe(0);
    sim.faults.failNext('callback', 503);
    const activation = new ActivationGenerator(77).next();
    const queue = new Queue(QUEUE_NAMES.approval, {
      connection: { url: inject('redisUrl') },
      prefix: ns.queuePrefix,
    });
    await publishActivation(queue, activation, { requestId: 'r' });
    await queue.close();
    await expect
      .poll(
        () => metric('fortellis_admin_outside_calls_total', 'party="callback",outcome="success"'),
        {
          timeout: 20_000,
        },
      )
      .toBe(1);
    expect(
      await metric('fortellis_admin_outside_calls_total', 'party="callback",outcome="retry"'),
    ).toBe(1);
    // The job completes after its callback succeeded: its counter may move a moment later.
    await expect
      .poll(() =>
        metric('fortellis_admin_jobs_completed_total', 'queue="approval",job="ActivationReceived"'),
      )
      .toBe(completedBefore + 1);
    expect(
      await metric('fortellis_admin_jobs_failed_total', 'job="ActivationReceived",final="false"'),
    ).toBe(1);
    const text = await (await fetch(`${base}/metrics`)).text();
    expect(text).toContain(
      'fortellis_admin_queue_oldest_waiting_job_age_seconds{queue="approval",service="approval-worker"} 0',
    );
    expect(text).toContain('process_resident_memory_bytes');
    // Each attempt's run time, by outcome: the failed first attempt and the completed retry.
    expect(
      await metric(
        'fortellis_admin_job_duration_seconds_count',
        'job="ActivationReceived",outcome="completed"',
      ),
    ).toBeGreaterThanOrEqual(1);
    expect(text).toContain('# TYPE fortellis_admin_jobs_stalled_total counter');
    expect(missingMetrics(text, 'approval-worker')).toEqual([]);
  });
});
