// Takes one batch of publishes to its end: sent in fenced attempts while the hold window lasts,
// then acknowledged once stored (and held by enough replicas), or refused, never both. An attempt
// whose outcome is unknown is learnt before the batch is refused.
import { setTimeout as delay } from 'node:timers/promises';
import type { Queue } from 'bullmq';
import type { QueueName } from '@fortellis-admin/contracts';
import type { AckDurabilityGate } from './ack-durability-gate.ts';
import { within } from './bounded-wait.ts';
import { sendAttempt, type Attempt, type AttemptTarget } from './publish-attempt.ts';
import { fenceDeadline, type FencedRedis } from './publish-fence.ts';
import {
  batchBounds,
  holdForReplicas,
  settleWhatIsStored,
  type ReplicaHold,
} from './publish-outcome.ts';
import type { PendingPublish } from './publish-settlement.ts';
import type { RedisClock } from './redis-clock.ts';

/**
 * What taking a batch to its end needs of the publisher: besides what an attempt and the hold for
 * replicas need, its connection, hold window, view of Redis's clock and durability.
 */
export interface PublishContext extends AttemptTarget, ReplicaHold {
  redis: FencedRedis;
  /** How long a publish may wait for Redis. */
  holdMs: number;
  clock: RedisClock;
  durabilityGate: AckDurabilityGate;
}

/**
 * Sends the batch (the publishes of one queue that came in one turn of the event loop) until
 * Redis has stored it, then settles each call; refuses the calls when the hold window passed
 * first, or, loudly, when an outcome stayed unknown past the last bound.
 */
export async function publishBatch(
  context: PublishContext,
  queueName: QueueName,
  queue: Queue,
  pending: readonly PendingPublish[],
): Promise<void> {
  const { redis, settler, holdMs } = context;
  const first = pending[0];
  if (first === undefined) return;
  let batch: readonly PendingPublish[] = pending;
  const bounds = batchBounds(first.startedAt, holdMs);
  const { giveUpAt, learnBy } = bounds;
  let deadline: number | undefined;
  let lastProblem = 'Redis is unreachable';
  // Set once an attempt may have reached Redis without our learning how it ended: until we learn
  // it, the call cannot be refused, because the jobs may be stored.
  let outcomeUnknown = false;
  // Set once an attempt stored the jobs (on the primary of the time, which may since be lost).
  let wereStored = false;
  let inFlight: Promise<Attempt> | undefined;
  for (;;) {
    const now = performance.now();
    // Closed, or disconnected for good: nothing will bring Redis back to this publisher.
    if (context.isClosed() || redis.status === 'end')
      return settler.refuse(batch, 'the publisher is closed');
    if (inFlight === undefined) {
      if (now >= giveUpAt && !outcomeUnknown) return settler.refuse(batch, lastProblem);
      if (now >= learnBy) return settler.refuseUnknown(queueName, batch);
      if (redis.status !== 'ready') {
        await delay(50);
        continue;
      }
      if (now >= giveUpAt) {
        // Past the deadline no attempt of ours can store anything any more (the fence), and the
        // dropped connection can run nothing more: what is stored now is the outcome.
        if (await settleWhatIsStored(context, queueName, queue, batch, bounds, wereStored, now))
          return;
        continue;
      }
      const ready = await readyToSend(context, first.startedWallMs, giveUpAt, deadline);
      if (ready === 'insufficient')
        return settler.refuse(batch, 'Redis does not persist each write (appendfsync always)');
      if (ready === undefined) continue;
      deadline = ready;
      inFlight = sendAttempt(context, queue, batch, deadline, giveUpAt - now);
    }
    // Before the hold window has passed, wait for the answer until then; after it, an attempt on
    // the wire is waited for until its answer comes (a stalled Redis answers once it runs again,
    // and refuses it if the deadline has passed), or the connection drops.
    const outcome = await within(inFlight, (now < giveUpAt ? giveUpAt : learnBy) - now);
    if (outcome === undefined) {
      if (performance.now() >= learnBy) return settler.refuseUnknown(queueName, batch);
      continue;
    }
    inFlight = undefined;
    if (outcome.kind === 'fenced') {
      if (!outcomeUnknown) return settler.refuse(batch, 'the hold window passed');
      // An earlier attempt may have stored the jobs: what is stored decides, once the fence
      // holds for certain (at the hold window's end).
      await delay(Math.max(0, giveUpAt - performance.now()));
      continue;
    }
    if (outcome.kind === 'stored') {
      const unconfirmed = settler.settleStored(queueName, batch, outcome);
      if (unconfirmed.length === 0) return;
      wereStored = true;
      batch = await holdForReplicas(context, queueName, queue, unconfirmed, bounds, true);
      if (batch.length === 0) return;
      // Stored once, then gone (a failover lost them): sent again while the fence allows.
      outcomeUnknown = true;
      continue;
    }
    lastProblem = errorMessage(outcome.error);
    // Only a command that was never written, or that Redis refused, is known not to have run.
    // Sending again is safe either way: a job whose id is already stored is not added twice.
    if (outcome.mayHaveRun) outcomeUnknown = true;
    await delay(50);
  }
}

/**
 * What must hold before a batch is sent: Redis persists each write as asked, the deadline is
 * known in Redis's clock, and (with replicas) enough replicas follow. Answers the deadline once
 * all hold, `insufficient` when Redis does not persist as asked, undefined when it is not known
 * yet (after waiting a little: the caller asks again).
 */
async function readyToSend(
  context: PublishContext,
  startedWallMs: number,
  giveUpAt: number,
  known: number | undefined,
): Promise<number | 'insufficient' | undefined> {
  const { durabilityGate, clock, confirmer, holdMs } = context;
  const now = performance.now();
  await within(durabilityGate.ensureChecked(), giveUpAt - now);
  if (durabilityGate.state === 'unchecked') return undefined;
  if (durabilityGate.state === 'insufficient') return 'insufficient';
  const deadline =
    known ?? (await within(fenceDeadline(clock, startedWallMs, holdMs), giveUpAt - now));
  if (deadline === undefined) {
    await delay(50);
    return undefined;
  }
  if (confirmer?.lagging === true) {
    // Too few replicas follow: a job stored now could be neither acknowledged nor refused.
    // Wait (unsent, so still refusable) for a round that finds enough of them again.
    const probe = await within(confirmer.confirm([]), giveUpAt - now);
    // A round that was answered waited its WAIT; one that failed (a demoted primary) did not.
    if (probe?.kind !== 'answered') await delay(50);
    return undefined;
  }
  return deadline;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
