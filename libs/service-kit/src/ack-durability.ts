// Whether the connected Redis keeps an acknowledged job through a crash of its own: with
// `appendonly yes` and `appendfsync always`, Redis writes and fsyncs its AOF before it answers.
import type { Redis } from 'ioredis';

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

export async function checkAckDurability(
  redis: Redis,
  wanted: AckDurability,
): Promise<Exclude<DurabilityState, 'unchecked'>> {
  if (wanted === 'none') return 'sufficient';
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
