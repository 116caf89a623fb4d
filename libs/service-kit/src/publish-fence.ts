// The fence of every publish: a deadline, written in Redis's own clock, that Redis itself checks
// before it runs the publish's transaction, so that a publish the ingress refused can never be
// stored later.
import type { RedisClient } from './redis-connection.ts';
import type { RedisClock } from './redis-clock.ts';

/**
 * Redis refuses a publish whose deadline (in Redis's own clock) has passed: it touches the key the
 * publish's transaction watches, so the transaction's EXEC does nothing. The ingress gives up this
 * long after that deadline, so whatever it refuses can no longer be stored: the margin covers the
 * error of the clock-offset estimate (at most half a 50 ms round trip).
 */
export const FENCE_MARGIN_MS = 500;

const FENCE_SCRIPT = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
if now > tonumber(ARGV[1]) then
  redis.call('SET', KEYS[1], '1', 'PX', 60000)
  return 0
end
return 1`;

/** A connection that knows the fence command. */
export type FencedRedis = RedisClient & {
  ackFence(key: string, deadlineMs: number): Promise<number>;
};

/** The connection, with the fence command defined on it (once per connection). */
export function withAckFence(connection: RedisClient): FencedRedis {
  const redis = connection as FencedRedis;
  if (typeof redis.ackFence !== 'function')
    redis.defineCommand('ackFence', { numberOfKeys: 1, lua: FENCE_SCRIPT });
  return redis;
}

/**
 * The Redis-clock deadline of a publish that started at `startedWallMs` (local clock) and may wait
 * `holdMs`; undefined while the clock's offset is not known.
 */
export async function fenceDeadline(
  clock: RedisClock,
  startedWallMs: number,
  holdMs: number,
): Promise<number | undefined> {
  if (clock.serverTimeAt(startedWallMs) === undefined) await clock.sample();
  const start = clock.serverTimeAt(startedWallMs);
  return start === undefined ? undefined : start + holdMs - FENCE_MARGIN_MS;
}
