// Publishes jobs to the BullMQ queues so that an acknowledgement is always true: a call resolves
// only once Redis has stored its job (durably, when Redis runs with appendfsync always), rides out
// Redis outages shorter than the hold window, and a call that is refused can never take effect
// later, because every publish is fenced by a deadline that Redis itself checks. With replicas, a
// call resolves only once enough replicas hold its job too (WAIT), so that the loss of the primary
// cannot lose what was acknowledged.
import { Queue } from 'bullmq';
import {
  QUEUE_NAMES,
  QUEUE_OF_JOB,
  type JobName,
  type JobPayloads,
  type QueueName,
} from '@fortellis-admin/contracts';
import type { AckDurability, DurabilityState } from './ack-durability.ts';
import { AckDurabilityGate } from './ack-durability-gate.ts';
import type { Logger } from './logger.ts';
import { publishBatch, type PublishContext } from './publish-batch.ts';
import { withAckFence } from './publish-fence.ts';
import { PublishSettler, type PendingPublish, type PublishResult } from './publish-settlement.ts';
import { RedisClock } from './redis-clock.ts';
import type { RedisClient } from './redis-connection.ts';
import { REPLICA_WAIT_SLICE_MS, ReplicaConfirmer } from './replica-confirmer.ts';

export { FENCE_MARGIN_MS } from './publish-fence.ts';
export { UNKNOWN_OUTCOME_FACTOR } from './publish-outcome.ts';
export type { PublishResult } from './publish-settlement.ts';

export interface JobPublisherOptions {
  /**
   * A connection with `enableOfflineQueue: false`, so nothing waits unsent in memory: to one Redis
   * (direct or behind Sentinels) or to a Cluster (then `prefix` must be a hash tag, `{name}`, so
   * that every key of a publish is in one slot).
   */
  connection: RedisClient;
  prefix: string;
  /** How long a publish may wait for Redis (an outage, a failover, a stall). Default 10 s. */
  holdMs?: number;
  /** What Redis must guarantee before a job is acknowledged. Default `fsync`. */
  durability?: AckDurability;
  /**
   * Replicas that must hold a job (WAIT) before it is acknowledged. Default 0: the primary's word
   * (and its fsync) is enough.
   */
  ackReplicas?: number;
  /** Told how long each stored publish took, in seconds. */
  onPublished?: (seconds: number) => void;
  logger?: Logger;
}

export class JobPublisher {
  readonly #context: PublishContext;
  readonly #queues: Map<QueueName, Queue>;
  readonly #pending = new Map<QueueName, PendingPublish[]>();
  #closed = false;

  constructor(options: JobPublisherOptions) {
    const holdMs = options.holdMs ?? 10_000;
    const redis = withAckFence(options.connection);
    // On a Cluster, TIME is read on the node that runs the fence: the one of the prefix's slot.
    const clock = new RedisClock(redis, { slotKey: `${options.prefix}:ack-fence` });
    const replicas = options.ackReplicas ?? 0;
    const confirmer =
      replicas > 0
        ? new ReplicaConfirmer({
            connection: redis,
            replicas,
            markerKey: `${options.prefix}:ack-replicated`,
            sliceMs: Math.max(10, Math.floor(Math.min(REPLICA_WAIT_SLICE_MS, holdMs / 4))),
          })
        : undefined;
    const durabilityGate = new AckDurabilityGate(
      redis,
      options.durability ?? 'fsync',
      options.logger,
    );
    const { onPublished, logger } = options;
    this.#context = {
      redis,
      prefix: options.prefix,
      holdMs,
      clock,
      confirmer,
      durabilityGate,
      settler: new PublishSettler({ confirmer, onPublished, logger }),
      isClosed: () => this.#closed,
    };
    // Every (re)connection may be to another server (a restart, a failover): check it again.
    redis.on('ready', () => {
      durabilityGate.forget();
      confirmer?.forget();
      void clock.sample();
    });
    this.#queues = new Map(
      Object.values(QUEUE_NAMES).map((name) => {
        const queue = new Queue(name, {
          connection: redis,
          prefix: options.prefix,
          skipVersionCheck: true,
        });
        // The connection's own listener logs its errors, once, as structured lines.
        queue.on('error', () => undefined);
        return [name, queue];
      }),
    );
  }

  /** Every queue of the system (for the operators' queue board). */
  get queues(): Queue[] {
    return [...this.#queues.values()];
  }

  /** Whether the connected Redis gives acknowledged jobs the durability asked for. */
  get durability(): DurabilityState {
    return this.#context.durabilityGate.state;
  }

  /** Asks the connected Redis, unless it was asked since the connection was made. */
  async checkDurability(): Promise<DurabilityState> {
    await this.#context.durabilityGate.ensureChecked();
    return this.#context.durabilityGate.state;
  }

  /**
   * Adds the job under its derived id. A job whose id is already in the queue is not added again;
   * the call still succeeds, because the fact it carries is safely stored.
   *
   * Publishes that arrive in the same turn of the event loop are sent to Redis together, in one
   * fenced transaction: each caller resolves once Redis has stored its job, or rejects with
   * QUEUE_UNAVAILABLE (503) when the hold window passed first, in which case it never happens.
   */
  publish<N extends JobName>(name: N, data: JobPayloads[N], jobId: string): Promise<PublishResult> {
    const queueName = QUEUE_OF_JOB[name];
    return new Promise<PublishResult>((resolve, reject) => {
      let batch = this.#pending.get(queueName);
      if (batch === undefined) {
        batch = [];
        this.#pending.set(queueName, batch);
        setImmediate(() => void this.#flush(queueName));
      }
      batch.push({
        name,
        data,
        jobId,
        resolve,
        reject,
        startedAt: performance.now(),
        startedWallMs: Date.now(),
      });
    });
  }

  async #flush(queueName: QueueName): Promise<void> {
    const pending = this.#pending.get(queueName) ?? [];
    this.#pending.delete(queueName);
    const queue = this.#queues.get(queueName);
    if (queue === undefined) return;
    await publishBatch(this.#context, queueName, queue, pending);
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#context.clock.stop();
    await Promise.all([...this.#queues.values()].map((queue) => queue.close()));
  }
}
