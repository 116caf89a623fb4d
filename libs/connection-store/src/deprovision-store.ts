// Writes of a deactivation: recording it from any state (a tombstone for a connection never seen),
// and each deprovision step's end (with the next step's lease) and an operator's reopening; a step's
// lease is taken and given back in call-lease-store.ts.
import { randomUUID } from 'node:crypto';
import type { Filter, UpdateFilter } from 'mongodb';
import { isDuplicateKey, type ConnectionCollection } from './connection-collection.ts';
import {
  deactivationChanges,
  failedSteps,
  historyEntry,
  outcomeDetail,
} from './connection-state-machine.ts';
import {
  connectionKey,
  type ConnectionDocument,
  type DeprovisionStep,
} from './connection-states.ts';
import {
  acquireLease,
  completeLease,
  mergeUpdates,
  type AcquiredLease,
  reopenedFields,
} from './outside-call-lease.ts';

/** How a step ended, and what the party answered or why it was skipped. */
export interface StepEnd {
  status: 'done' | 'failed' | 'skipped';
  httpStatus?: number;
  body?: string;
  error?: string;
  note?: string;
}

const pathOf = (step: DeprovisionStep) => `steps.${step}`;

/** The write that records a deactivation of a connection in `from`. */
function deactivatedFrom(
  from: ConnectionDocument['state'],
  recorded: NonNullable<ConnectionDocument['deactivation']>,
  now: Date,
): UpdateFilter<ConnectionDocument> {
  return {
    $set: { state: 'deactivated', deactivation: recorded, updatedAt: now },
    // No callback will carry the buyer's credentials any more.
    $unset: { 'provisioning.credentials': '' },
    $inc: { version: 1 },
    $push: {
      history: historyEntry({
        at: now,
        event: 'deactivated',
        from,
        to: 'deactivated',
        by: 'deprovision-worker',
        detail: `request ${recorded.requestId}`,
      }),
    },
  };
}

/** Who may end a step: the holder of its lease, or anyone for a step never attempted. */
function endCondition(step: DeprovisionStep, leaseId: string | null): Filter<ConnectionDocument> {
  return leaseId === null
    ? { [`${pathOf(step)}.status`]: { $exists: false } }
    : { [`${pathOf(step)}.leaseId`]: leaseId };
}

/** The write that ends a step: its status, what the party said, the history entry. */
function stepEndUpdate(step: DeprovisionStep, result: StepEnd, now: Date) {
  const path = pathOf(step);
  return completeLease(
    path,
    {
      httpStatus: result.httpStatus,
      error: result.error,
      body: result.body,
      failed: result.status === 'failed',
    },
    now,
    {
      [`${path}.status`]: result.status,
      ...(result.note === undefined ? {} : { [`${path}.note`]: result.note }),
    },
    historyEntry({
      at: now,
      event: `${step}_${result.status}`,
      by: 'deprovision-worker',
      detail: outcomeDetail(result),
    }),
  );
}

export class DeprovisionStore {
  readonly #c: ConnectionCollection;

  constructor(connections: ConnectionCollection) {
    this.#c = connections;
  }

  /**
   * Records a deactivation from any state. For a connection never seen, writes a tombstone so a
   * late activation cannot revive it. Idempotent: a repeat changes nothing. Returns the document.
   */
  async recordDeactivation(
    connectionId: string,
    deactivation: { requestId: string; receivedAt: Date },
    options: { cleanupLeaseMs?: number } = {},
  ): Promise<{ connection: ConnectionDocument; changed: boolean; cleanupLease?: AcquiredLease }> {
    const key = connectionKey(connectionId);
    const now = this.#c.now();
    const recorded = { ...deactivation, recordedAt: now };
    const detail = `request ${deactivation.requestId}`;
    if (options.cleanupLeaseMs !== undefined) {
      // The common case, an accepted connection deactivated once: one write records the
      // deactivation and takes the clean-up's lease. Anything else takes the general path.
      const leaseId = randomUUID();
      const updated = await this.#c.applyIf(
        connectionId,
        { state: 'accepted', steps: { $exists: false } },
        mergeUpdates(
          deactivatedFrom('accepted', recorded, now),
          acquireLease(pathOf('cleanup'), { leaseId, now, leaseMs: options.cleanupLeaseMs }),
        ),
      );
      if (updated !== null)
        return { connection: updated, changed: true, cleanupLease: { leaseId } };
    }
    return this.#c.withLock(connectionId, async () => {
      for (let attempt = 0; attempt < 5; attempt += 1) {
        const current = await this.#c.get(key);
        if (current === null) {
          const tombstone: ConnectionDocument = {
            _id: key,
            connectionId,
            state: 'deactivated',
            version: 1,
            tombstone: true,
            deactivation: recorded,
            history: [
              historyEntry({
                at: now,
                event: 'deactivated_before_activation',
                to: 'deactivated',
                by: 'deprovision-worker',
                detail,
              }),
            ],
            createdAt: now,
            updatedAt: now,
          };
          try {
            await this.#c.collection.insertOne(tombstone);
            return { connection: tombstone, changed: true };
          } catch (error) {
            if (!isDuplicateKey(error)) throw error;
            continue;
          }
        }
        if (!deactivationChanges(current)) return { connection: current, changed: false };
        const updated = await this.#c.apply(current, deactivatedFrom(current.state, recorded, now));
        if (updated !== null) return { connection: updated, changed: true };
      }
      throw new Error(`could not record the deactivation of ${key}: the document kept changing`);
    });
  }

  /**
   * Ends a step: done, failed (with what the party answered) or skipped (with why). Under a lease,
   * only its holder may end it; `leaseId` null ends a step that needed no attempt (skipped). One
   * write, conditional on the lease.
   */
  async completeStep(
    connectionId: string,
    step: DeprovisionStep,
    leaseId: string | null,
    result: StepEnd,
  ): Promise<boolean> {
    const updated = await this.#c.applyIf(
      connectionId,
      endCondition(step, leaseId),
      stepEndUpdate(step, result, this.#c.now()),
    );
    return updated !== null;
  }

  /**
   * Ends a step and, in the same write, takes the lease of the step that follows it, when that one
   * was never attempted. Otherwise it only ends the step, and `next` is left to `acquireCallLease`.
   */
  async completeStepThenLease(
    connectionId: string,
    step: DeprovisionStep,
    leaseId: string,
    result: StepEnd,
    next: { step: DeprovisionStep; leaseMs: number },
  ): Promise<{ completed: boolean; nextLease: AcquiredLease | null }> {
    const now = this.#c.now();
    const nextLeaseId = randomUUID();
    const updated = await this.#c.applyIf(
      connectionId,
      { ...endCondition(step, leaseId), [pathOf(next.step)]: { $exists: false } },
      mergeUpdates(
        stepEndUpdate(step, result, now),
        acquireLease(pathOf(next.step), { leaseId: nextLeaseId, now, leaseMs: next.leaseMs }),
      ),
    );
    if (updated !== null) return { completed: true, nextLease: { leaseId: nextLeaseId } };
    return {
      completed: await this.completeStep(connectionId, step, leaseId, result),
      nextLease: null,
    };
  }

  /** Reopens the deprovision steps that failed, keeping their attempts. Returns the steps reopened. */
  reopenFailedSteps(connectionId: string, by: string): Promise<DeprovisionStep[]> {
    return this.#c.withLock(connectionId, async () => {
      const current = await this.#c.get(connectionId);
      const failed = failedSteps(current);
      if (current === null || failed.length === 0) return [];
      const now = this.#c.now();
      await this.#c.apply(current, {
        $set: { updatedAt: now },
        $unset: Object.fromEntries(
          failed.flatMap((step) => reopenedFields(pathOf(step), 'status')).map((f) => [f, '']),
        ),
        $inc: { version: 1 },
        $push: {
          history: historyEntry({
            at: now,
            event: 'operator_retry_steps',
            by,
            detail: failed.join(', '),
          }),
        },
      });
      return failed;
    });
  }
}
