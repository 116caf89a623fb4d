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
  acquireLease,
  completeLease,
  holdsLease,
  leaseIsLive,
  releaseLease,
  reopenedFields,
} from './outside-call-lease.ts';

const PATH = 'callback';

export class CallbackStore {
  readonly #c: ConnectionCollection;
  readonly #activations: ActivationStore;

  constructor(connections: ConnectionCollection, activations: ActivationStore) {
    this.#c = connections;
    this.#activations = activations;
  }

  /**
   * Takes the exclusive right to send the callback for `state` for `leaseMs`. Returns the lease id,
   * or null when the connection left that state or another worker holds a live lease.
   */
  acquireCallbackLease(
    connectionId: string,
    state: CallbackDueState,
    leaseMs: number,
  ): Promise<string | null> {
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
      return updated === null ? null : leaseId;
    });
  }

  /** Records a failed attempt and gives the lease back. */
  releaseCallbackLease(
    connectionId: string,
    leaseId: string,
    attempt: { status?: number; error: string },
  ): Promise<void> {
    return this.#c.withLock(connectionId, async () => {
      const current = await this.#c.get(connectionId);
      if (current === null || !holdsLease(current.callback, leaseId)) return;
      await this.#c.apply(current, releaseLease(PATH, attempt, this.#c.now()));
    });
  }

  /** Ends the callback under the lease: acknowledged (→ accepted / rejection_sent) or failed. */
  completeCallback(
    connectionId: string,
    leaseId: string,
    from: CallbackDueState,
    result: { outcome: 'acknowledged' | 'failed'; status?: number; body?: string; error?: string },
  ): Promise<ConnectionDocument | null> {
    return this.#c.withLock(connectionId, async () => {
      const now = this.#c.now();
      const to = stateAfterCallback(from, result.outcome);
      const current = await this.#c.get(connectionId);
      if (current === null || current.state !== from || !holdsLease(current.callback, leaseId))
        return null;
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
      return this.#c.apply(
        current,
        completeLease(
          PATH,
          {
            httpStatus: result.status,
            error: result.error,
            body: result.body,
            failed: result.outcome === 'failed',
          },
          now,
          { state: to, [`${PATH}.outcome`]: result.outcome },
          history,
        ),
      );
    });
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
