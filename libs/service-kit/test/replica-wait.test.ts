// With ACK_REPLICAS, a worker relies on a connection's lock, a call's recorded end or an attempt
// marked abandoned only once a replica holds it, against a real primary and replica: a write the
// primary alone held would be gone after a failover, and a second worker would then call again.
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConnectionLocks } from '@fortellis-admin/connection-store';
import {
  createTestNamespace,
  startReplicatedRedis,
  type ReplicatedRedis,
} from '@fortellis-admin/test-support';
import { RedisCallOutcomeLedger } from '@fortellis-admin/service-kit';

let topology: ReplicatedRedis;
let primary: Redis;
let replica: Redis;
const prefix = createTestNamespace('replica-wait').queuePrefix;

beforeAll(async () => {
  topology = await startReplicatedRedis({ replicas: 1, sentinels: 1, durable: false });
  primary = new Redis(topology.nodes[0]!.url);
  replica = new Redis(topology.nodes[1]!.url);
}, 60_000);
afterAll(async () => {
  primary?.disconnect();
  replica?.disconnect();
  await topology?.stop();
});

/** Runs `work` with the replica stopped (SIGSTOP), resuming it whatever happens. */
async function withReplicaStalled<T>(work: () => Promise<T>): Promise<T> {
  topology.nodes[1]!.pause();
  try {
    return await work();
  } finally {
    topology.nodes[1]!.resume();
  }
}

describe('connection locks with ACK_REPLICAS=1', () => {
  it('runs the work once the replica holds the lock, and frees it after', async () => {
    const locks = new ConnectionLocks(primary, { prefix, replicaWait: { replicas: 1 } });
    const id = randomUUID();
    const held = await locks.withLock(id, async () => {
      const [key] = await primary.keys(`${prefix}:lock:connection:*`);
      return { key, onReplica: key === undefined ? null : await replica.get(key) };
    });
    expect(held.key).toBeDefined();
    expect(held.onReplica).toEqual(expect.any(String));
    expect(await primary.keys(`${prefix}:lock:connection:*`)).toEqual([]);
  });

  it('never runs the work under a lock only the primary holds: 409, and the lock is given back', async () => {
    const locks = new ConnectionLocks(primary, {
      prefix,
      waitMs: 1500,
      replicaWait: { replicas: 1, timeoutMs: 200 },
    });
    let ran = false;
    const error = await withReplicaStalled(() =>
      locks
        .withLock(randomUUID(), async () => {
          ran = true;
        })
        .then(
          () => null,
          (thrown: unknown) => thrown as { code?: string; message: string },
        ),
    );
    expect(ran).toBe(false);
    expect(error?.code).toBe('CONFLICT');
    expect(error?.message).toMatch(/too few Redis replicas/);
    expect(await primary.keys(`${prefix}:lock:connection:*`)).toEqual([]);
  });

  it('without ACK_REPLICAS a stalled replica changes nothing', async () => {
    const locks = new ConnectionLocks(primary, { prefix, waitMs: 1500 });
    const ran = await withReplicaStalled(() => locks.withLock(randomUUID(), async () => true));
    expect(ran).toBe(true);
  });
});

describe('the call-outcome ledger with ACK_REPLICAS=1', () => {
  const ledger = () =>
    new RedisCallOutcomeLedger(primary, {
      prefix,
      ttlSeconds: 60,
      confirmMs: 1000,
      replicaWait: { replicas: 1, timeoutMs: 200 },
    });
  const keyOf = (lease: string) => `${prefix}:call-outcome:${lease}`;

  it('records an end and marks an abandoned attempt only once the replica holds it', async () => {
    const lease = randomUUID();
    expect(await ledger().record(lease, { outcome: 'acknowledged', status: 200 })).toBe(true);
    expect(JSON.parse((await replica.get(keyOf(lease))) ?? 'null')).toEqual({
      outcome: 'acknowledged',
      status: 200,
    });
    const taken = randomUUID();
    expect(await ledger().outcomeOf(taken, { abandon: true })).toBeNull();
    expect(await replica.get(keyOf(taken))).toBe('abandoned');
    expect(await ledger().record(taken, { outcome: 'acknowledged' })).toBe(false);
  });

  it('an entry the replica does not take is not relied on: the write throws, and is recognised once it does', async () => {
    const lease = randomUUID();
    const end = { outcome: 'acknowledged', status: 200 };
    const recorded = await withReplicaStalled(() =>
      ledger()
        .record(lease, end)
        .then(
          () => 'recorded',
          (error: Error) => error.message,
        ),
    );
    expect(recorded).toMatch(/too few Redis replicas/);
    // The same end again (the job's retry): it is ours, and now on the replica.
    expect(await ledger().record(lease, end)).toBe(true);
    expect(JSON.parse((await replica.get(keyOf(lease))) ?? 'null')).toEqual(end);

    const taken = randomUUID();
    const abandoned = await withReplicaStalled(() =>
      ledger()
        .outcomeOf(taken, { abandon: true })
        .then(
          () => 'abandoned',
          (error: Error) => error.message,
        ),
    );
    expect(abandoned).toMatch(/too few Redis replicas/);
  });
});
