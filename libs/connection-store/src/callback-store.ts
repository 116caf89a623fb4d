// Writes of the Fortellis callback: the lease that lets one worker send it, a failed attempt, its
// end (acknowledged or failed, which moves the connection on), and an operator's reopening.
import { randomUUID } from 'node:crypto';
import type { ActivationStore } from './activation-store.ts';
import type { ConnectionCollection } from './connection-collection.ts';
import {
  callbackEvent,
  callbackStatusFor,
  historyEntry,
  reopenedCallbackState,
  stateAfterCallback,
  type CallbackDueState,
} from './connection-state-machine.ts';
import type { ConnectionDocument } from './connection-states.ts';
import {
  acquired,
  acquireLease,
  completeLease,
  type AcquiredLease,
  leaseIsLive,
  releaseLease,
  reopenedFields,
} from './outside-call-lease.ts';

const PATH = 'callback';

/** How a callback ended: acknowledged by Fortellis, or failed (with its answer or error). */
export interface CallbackEnd {
  outcome: 'acknowledged' | 'failed';
  status?: number | undefined;
  body?: string | undefined;
  error?: string | undefined;
}

export class CallbackStore {
  readonly #c: ConnectionCollection;
  readonly #activations: ActivationStore;

  constructor(connections: ConnectionCollection, activations: ActivationStore) {
    this.#c = connections;
    this.#activations = activations;
  }

  /**
   * Takes the exclusive right to send the callback for `state` for `leaseMs`. Returns the lease
   * (and the expired lease of an earlier attempt that never ended, whose outcome the caller must
   * look up before calling again), or null when the connection left that state or another worker
   * holds a live lease.
   */
  acquireCallbackLease(
    connectionId: string,
    state: CallbackDueState,
    leaseMs: number,
  ): Promise<AcquiredLease | null> {
    return this.#c.withLock(connectionId, async () => {
      const now = this.#c.now();
      const current = await this.#c.get(connectionId);
      if (current === null || current.state !== state) return null;
      if (leaseIsLive(current.callback, now)) return null;
      const leaseId = randomUUID();
      const updated = await this.#c.apply(
        current,
        acquireLease(
          PATH,
          { leaseId, now, leaseMs },
          { [`${PATH}.status`]: callbackStatusFor(state) },
        ),
      );
      return updated === null ? null : acquired(leaseId, current.callback);
    });
  }

  /** Records a failed attempt and gives the lease back. One write, conditional on the lease. */
  async releaseCallbackLease(
    connectionId: string,
    leaseId: string,
    attempt: { status?: number; error: string },
  ): Promise<void> {
    await this.#c.applyIf(
      connectionId,
      { [`${PATH}.leaseId`]: leaseId },
      releaseLease(PATH, attempt, this.#c.now()),
    );
  }

  /**
   * Ends the callback under the lease: acknowledged (→ accepted / rejection_sent) or failed. One
   * write, conditional on the state and the lease; `announced` records in the same write that the
   * acceptance was already announced to the deprovision worker. Null when the lease is not held.
   */
  completeCallback(
    connectionId: string,
    leaseId: string,
    from: CallbackDueState,
    result: CallbackEnd,
    options: { announced?: boolean } = {},
  ): Promise<ConnectionDocument | null> {
    const now = this.#c.now();
    const to = stateAfterCallback(from, result.outcome);
    const history = historyEntry({
      at: now,
      event: callbackEvent(from, result.outcome),
      from,
      to,
      by: 'approval-worker',
      detail:
        result.status === undefined
          ? undefined
          : `HTTP ${result.status}${result.error === undefined ? '' : `: ${result.error}`}`,
    });
    return this.#c.applyIf(
      connectionId,
      { state: from, [`${PATH}.leaseId`]: leaseId },
      completeLease(
        PATH,
        {
          httpStatus: result.status,
          error: result.error,
          body: result.body,
          failed: result.outcome === 'failed',
        },
        now,
        {
          state: to,
          [`${PATH}.outcome`]: result.outcome,
          ...(options.announced === true ? { acceptanceAnnounced: true } : {}),
        },
        history,
      ),
    );
  }

  /**
   * Reopens a failed callback so it can be attempted again: `callback_failed` goes back to the
   * decided state (`approved` or `rejected`), attempts are kept. Null if not `callback_failed`.
   */
  async reopenCallback(connectionId: string, by: string): Promise<ConnectionDocument | null> {
    const back = reopenedCallbackState(await this.#c.get(connectionId));
    if (back === null) return null;
    return this.#activations.transition(connectionId, ['callback_failed'], back, {
      event: 'operator_retry_callback',
      by,
      unset: reopenedFields(PATH, 'outcome'),
    });
  }
}
