// Learning what became of jobs that may be stored when no answer said so (an attempt sent, then
// no reply; a primary lost before its replicas had them): ask the server which of them it holds.
import { setTimeout as delay } from 'node:timers/promises';
import type { Queue } from 'bullmq';
import type { QueueName } from '@fortellis-admin/contracts';
import { within } from './bounded-wait.ts';
import type { PendingPublish, PublishSettler } from './publish-settlement.ts';
import type { RedisClient } from './redis-connection.ts';
import type { ReplicaConfirmer } from './replica-confirmer.ts';

/**
 * How long, in hold windows, a call waits to learn the outcome of an attempt that may have reached
 * Redis (sent, then no answer): refusing it earlier could refuse a job that is stored.
 */
export const UNKNOWN_OUTCOME_FACTOR = 6;

/** The limits of one batch, in performance.now() time. */
export interface Bounds {
  /** The hold window's end: past it, the fence refuses every attempt. */
  giveUpAt: number;
  /** The last bound, for jobs that may be stored: refused loudly then. */
  learnBy: number;
}

/** The bounds of a batch whose first call came in at `startedAt` (performance.now() time). */
export function batchBounds(startedAt: number, holdMs: number): Bounds {
  return { giveUpAt: startedAt + holdMs, learnBy: startedAt + holdMs * UNKNOWN_OUTCOME_FACTOR };
}

/** The ids of the batch's jobs that Redis holds. */
export async function storedJobIds(
  redis: RedisClient,
  queue: Queue,
  batch: readonly PendingPublish[],
): Promise<Set<string>> {
  const exists = await Promise.all(
    batch.map(async (item) => (await redis.exists(queue.toKey(item.jobId))) === 1),
  );
  return new Set(batch.filter((_item, index) => exists[index]).map((item) => item.jobId));
}

/** What holding jobs for replicas needs of the publisher. */
export interface ReplicaHold {
  redis: RedisClient;
  /** Present when acknowledgements wait for replicas (else nothing is held). */
  confirmer: ReplicaConfirmer | undefined;
  settler: PublishSettler;
  /** Whether the publisher was closed. */
  isClosed: () => boolean;
}

/**
 * Holds jobs that may be stored until enough replicas hold them. Each round asks the server the
 * connection is on now (after a failover, the new primary) which of them it holds: those are
 * acknowledged once enough of its replicas hold them too. Those it does not hold are sent again
 * (returned) while the fence still lets them be stored, and refused after it: then nothing can
 * store them any more. Jobs still unconfirmed at the last bound are refused loudly: they are
 * stored and may take effect. Returns the jobs to send again.
 */
export async function holdForReplicas(
  hold: ReplicaHold,
  queueName: QueueName,
  queue: Queue,
  items: readonly PendingPublish[],
  bounds: Bounds,
  wereStored: boolean,
): Promise<readonly PendingPublish[]> {
  const { redis, confirmer, settler } = hold;
  let held = items;
  while (confirmer !== undefined && held.length > 0) {
    const now = performance.now();
    if (now >= bounds.learnBy || hold.isClosed() || redis.status === 'end') {
      settler.refuseUnknown(queueName, held, 'too few replicas acknowledged the jobs in time');
      return [];
    }
    if (redis.status !== 'ready') {
      await delay(50);
      continue;
    }
    const keys = held.map((item) => queue.toKey(item.jobId));
    const round = await within(confirmer.confirm(keys), bounds.learnBy - now);
    if (round === undefined) continue;
    if (round.kind === 'error') {
      await delay(50);
      continue;
    }
    const present = held.filter((_item, index) => round.present[index] === true);
    if (present.length < held.length) {
      if (performance.now() < bounds.giveUpAt) return held;
      settler.refuseLost(
        held.filter((_item, index) => round.present[index] !== true),
        wereStored,
      );
      held = present;
    }
    if (held.length > 0 && round.acked >= confirmer.replicas) {
      settler.settle(queueName, held, new Map());
      return [];
    }
  }
  return [];
}

/**
 * Settles a batch past its hold window, with no attempt on the wire: no attempt can store anything
 * any more, so what is stored is the outcome. With replicas, the stored jobs are acknowledged once
 * enough replicas hold them; without, by which of them Redis holds. Answers false when Redis did
 * not answer in time: the caller asks again.
 */
export async function settleWhatIsStored(
  hold: ReplicaHold,
  queueName: QueueName,
  queue: Queue,
  batch: readonly PendingPublish[],
  bounds: Bounds,
  wereStored: boolean,
  now: number,
): Promise<boolean> {
  if (hold.confirmer !== undefined) {
    await holdForReplicas(hold, queueName, queue, batch, bounds, wereStored);
    return true;
  }
  const stored = await within(storedJobIds(hold.redis, queue, batch), bounds.learnBy - now);
  if (stored === undefined) return false;
  hold.settler.settleKnown(queueName, batch, stored);
  return true;
}
