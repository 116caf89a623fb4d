// The call-outcome ledger on real Redis: one entry per lease, set once; an attempt taken over is
// marked abandoned and can no longer record; and the in-memory ledger the unit tests use agrees.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { Redis } from 'ioredis';
import { createTestNamespace } from '@fortellis-admin/test-support';
import { MemoryCallOutcomeLedger } from '@fortellis-admin/test-support/doubles';
import {
  attemptLeaseMs,
  RedisCallOutcomeLedger,
  type CallOutcomeLedger,
} from '@fortellis-admin/service-kit';

const ns = createTestNamespace('ledger');
let redis: Redis;
beforeAll(() => {
  redis = new Redis(inject('redisUrl'));
});
afterAll(() => redis.disconnect());

const ledgers: Array<[string, () => CallOutcomeLedger]> = [
  ['Redis', () => new RedisCallOutcomeLedger(redis, { prefix: ns.queuePrefix, ttlSeconds: 60 })],
  ['memory', () => new MemoryCallOutcomeLedger()],
];

describe.each(ledgers)('the call-outcome ledger (%s)', (_name, make) => {
  it('keeps the first end recorded under a lease, and only that one', async () => {
    const ledger = make();
    const lease = randomUUID();
    expect(await ledger.outcomeOf(lease, { abandon: false })).toBeNull();
    expect(await ledger.record(lease, { outcome: 'acknowledged', status: 200 })).toBe(true);
    expect(await ledger.record(lease, { outcome: 'failed', status: 400 })).toBe(false);
    expect(await ledger.outcomeOf(lease, { abandon: true })).toEqual({
      outcome: 'acknowledged',
      status: 200,
    });
  });

  it('an attempt marked abandoned cannot record afterwards, and reads as nothing recorded', async () => {
    const ledger = make();
    const lease = randomUUID();
    expect(await ledger.outcomeOf(lease, { abandon: true })).toBeNull();
    expect(await ledger.record(lease, { outcome: 'acknowledged' })).toBe(false);
    expect(await ledger.outcomeOf(lease, { abandon: true })).toBeNull();
  });
});

describe('Redis ledger entries', () => {
  it('expire after the configured time and stay apart per prefix', async () => {
    const lease = randomUUID();
    await new RedisCallOutcomeLedger(redis, { prefix: ns.queuePrefix, ttlSeconds: 60 }).record(
      lease,
      { outcome: 'acknowledged' },
    );
    const ttl = await redis.ttl(`${ns.queuePrefix}:call-outcome:${lease}`);
    expect(ttl).toBeGreaterThan(50);
    expect(ttl).toBeLessThanOrEqual(60);
    const other = new RedisCallOutcomeLedger(redis, { prefix: `${ns.queuePrefix}-other` });
    expect(await other.outcomeOf(lease, { abandon: false })).toBeNull();
  });
});

describe('attemptLeaseMs', () => {
  it('covers a token request and the call, twice, with a margin', () => {
    expect(attemptLeaseMs({ callMs: 10_000, tokenMs: 3000 })).toBe(31_000);
  });
});
