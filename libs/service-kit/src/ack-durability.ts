// Whether the connected Redis keeps an acknowledged job through a crash of its own: with
// `appendonly yes` and `appendfsync always`, Redis writes and fsyncs its AOF before it answers.
import { Cluster, type Redis } from 'ioredis';
import type { RedisClient } from './redis-connection.ts';

/**
 * - `fsync`: acknowledge only jobs Redis has fsynced to its append-only file (Redis must run with
 *   `appendonly yes` and `appendfsync always`; checked on every connection).
 * - `none`: acknowledge what Redis holds in memory (a Redis crash may lose up to its fsync
 *   interval). For development and for measuring what durability costs, never for production.
 */
export const ACK_DURABILITIES = ['fsync', 'none'] as const;
export type AckDurability = (typeof ACK_DURABILITIES)[number];

/**
 * `unchecked` until the connected server has been asked; `sufficient` when it gives what was asked;
 * `insufficient` when it does not (publishes are then refused); `unverifiable` when the server
 * refuses CONFIG GET (some managed services), in which case the operator's word is taken.
 */
export type DurabilityState = 'unchecked' | 'sufficient' | 'insufficient' | 'unverifiable';

/**
 * Asks the server, or on a Cluster every primary (CONFIG GET is keyless: a Cluster client would ask
 * any one node), and answers for the worst of them.
 */
export async function checkAckDurability(
  redis: RedisClient,
  wanted: AckDurability,
): Promise<Exclude<DurabilityState, 'unchecked'>> {
  if (wanted === 'none') return 'sufficient';
  const nodes = redis instanceof Cluster ? redis.nodes('master') : [redis];
  // A Cluster that has not learnt its nodes yet: not an answer.
  if (nodes.length === 0) throw new Error('the Cluster has no known primary yet');
  const states = await Promise.all(nodes.map(checkNode));
  if (states.includes('insufficient')) return 'insufficient';
  return states.includes('unverifiable') ? 'unverifiable' : 'sufficient';
}

async function checkNode(redis: Redis): Promise<Exclude<DurabilityState, 'unchecked'>> {
  let settings: string[];
  try {
    const [appendonly, appendfsync] = await Promise.all([
      redis.config('GET', 'appendonly'),
      redis.config('GET', 'appendfsync'),
    ]);
    settings = [appendonly[1] ?? '', appendfsync[1] ?? ''];
  } catch (error) {
    // A reply error (CONFIG renamed or refused) is an answer; a lost connection is not.
    if (error instanceof Error && error.name === 'ReplyError') return 'unverifiable';
    throw error;
  }
  return settings[0] === 'yes' && settings[1] === 'always' ? 'sufficient' : 'insufficient';
}
