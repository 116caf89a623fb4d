// Writes of the Fortellis callback (its lease is taken and given back in call-lease-store.ts): its
// end (acknowledged or failed, which moves the connection on), an operator's reopening, and an
// operator's suspension (which makes a `rejected` callback due for an accepted connection).
import type { ActivationStore } from './activation-store.ts';
import type { ConnectionCollection } from './connection-collection.ts';
import {
  callbackEvent,
  historyEntry,
  reopenedCallbackState,
  stateAfterCallback,
  suspensionOutcome,
  type CallbackDueState,
} from './connection-state-machine.ts';
import type { ConnectionDocument, ConnectionState, SuspensionRecord } from './connection-states.ts';
import { completeLease, reopenedFields } from './outside-call-lease.ts';

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
   * Ends the callback under the lease: acknowledged (→ accepted / rejection_sent / suspended) or
   * failed. One write, conditional on the state and the lease; `announced` records in the same
   * write that the acceptance was already announced to the deprovision worker. An acknowledged
   * `accepted` drops the buyer's sealed credentials: Fortellis has them now, and nothing here
   * needs them again. Null when the lease is not held.
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
    const accepted = to === 'accepted';
    const update = completeLease(
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
        ...(accepted ? { acceptedAt: now } : {}),
        ...(options.announced === true ? { acceptanceAnnounced: true } : {}),
      },
      history,
    );
    if (accepted) update.$unset = { ...update.$unset, 'provisioning.credentials': '' };
    return this.#c.applyIf(connectionId, { state: from, [`${PATH}.leaseId`]: leaseId }, update);
  }

  /**
   * Reopens a failed callback so it can be attempted again: `callback_failed` goes back to the
   * state that sends it (`approved`, `rejected` or `suspending`), attempts are kept. Null if not
   * `callback_failed`.
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

  /**
   * Suspends an accepted connection: `accepted → suspending`, with who and why, and a fresh
   * `rejected` callback record for the approval worker to send (the accepted callback's attempts
   * stay in the history). One conditional write. The same suspension again (same reason) while it
   * is being sent or done is a repeat; anything else a conflict with the current state. Null when
   * the connection does not exist.
   */
  requestSuspension(
    connectionId: string,
    suspension: SuspensionRecord,
  ): Promise<
    | { kind: 'recorded' | 'repeated'; connection: ConnectionDocument }
    | { kind: 'conflict'; state: ConnectionState; taken: SuspensionRecord | undefined }
    | null
  > {
    return this.#c.withLock(connectionId, async () => {
      const current = await this.#c.get(connectionId);
      if (current === null) return null;
      switch (suspensionOutcome(current, suspension)) {
        case 'repeat':
          return { kind: 'repeated', connection: current };
        case 'conflict':
          return { kind: 'conflict', state: current.state, taken: current.suspension };
        case 'suspend':
          break;
      }
      const now = this.#c.now();
      const updated = await this.#c.apply(current, {
        $set: {
          state: 'suspending',
          suspension,
          [PATH]: { status: 'rejected', attempts: 0 },
          // A connection accepted before `acceptedAt` was recorded keeps its acceptance known.
          acceptedAt: current.acceptedAt ?? current.callback?.completedAt ?? now,
          updatedAt: now,
        },
        $inc: { version: 1 },
        $push: {
          history: historyEntry({
            at: now,
            event: 'suspension_requested',
            from: current.state,
            to: 'suspending',
            by: suspension.by,
            detail: suspension.reason,
          }),
        },
      });
      return updated === null ? null : { kind: 'recorded', connection: updated };
    });
  }
}
