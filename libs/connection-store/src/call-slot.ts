// Which outside call a lease guards (the callback due from a state, the provisioning, one
// deprovision step) and what taking it answers: the one lease interface every worker's leased call
// goes through (call-lease-store.ts). Pure: where each call's record lives, when its lease may not
// be taken, the history event of a failed attempt; the stores (real and in memory) apply them.
import { callbackStatusFor, type CallbackDueState } from './connection-state-machine.ts';
import type {
  ConnectionDocument,
  DeprovisionStep,
  OutsideCallRecord,
} from './connection-states.ts';
import type { AcquiredLease } from './outside-call-lease.ts';

/**
 * The outside call a lease guards: the callback due from `state` (its lease is refused once the
 * connection has left that state), the provisioning of the buyer's account, or a deprovision step.
 */
export type CallSlot =
  | { call: 'callback'; state: CallbackDueState }
  | { call: 'provisioning' }
  | { call: 'step'; step: DeprovisionStep };

/** A lease just taken, with the connection as the write that took it left it. */
export type AcquiredCallLease = {
  kind: 'acquired';
  connection: ConnectionDocument;
} & AcquiredLease;

/**
 * Why a lease was not taken: no such connection (`unknown`); the connection left the state the call
 * belongs to (`moved-on`: the callback, the provisioning); the call has ended (`finished`: the
 * provisioning done, a step ended); another worker holds a live lease (`busy`). Each but `unknown`
 * comes with the connection as it was read when the lease was refused.
 */
export type UnavailableCallLease =
  | { kind: 'unavailable'; why: 'unknown' }
  | { kind: 'unavailable'; why: LeaseRefusal | 'busy'; connection: ConnectionDocument };

/** What asking for a call's lease answers: the lease, or why there is none. */
export type CallLeaseAcquisition = AcquiredCallLease | UnavailableCallLease;

/**
 * Whether `lease` says there is none; a lease handed on by the write before (an `AcquiredLease`:
 * the insert's, the previous call's end) always is one.
 */
export function isLeaseUnavailable(
  lease: AcquiredLease | CallLeaseAcquisition,
): lease is UnavailableCallLease {
  return 'kind' in lease && lease.kind === 'unavailable';
}

/** Why a connection's state refuses a call's lease, whoever holds it. */
export type LeaseRefusal = 'moved-on' | 'finished';

/** Where the slot's record lives in the connection document (`callback`, `steps.cleanup`, ...). */
export function slotPath(slot: CallSlot): string {
  return slot.call === 'step' ? `steps.${slot.step}` : slot.call;
}

/** The slot's record in `connection`, if the call was ever leased or ended. */
export function slotRecord(
  connection: ConnectionDocument,
  slot: CallSlot,
): OutsideCallRecord | undefined {
  switch (slot.call) {
    case 'callback':
      return connection.callback;
    case 'provisioning':
      return connection.provisioning;
    case 'step':
      return connection.steps?.[slot.step];
  }
}

/**
 * Why `connection` refuses the slot's lease, or null when it may be taken (a live lease aside): the
 * callback only from the state it is due from; the provisioning only for an `approved` connection
 * whose account is not done yet; a step only until it has ended (done, failed or skipped).
 */
export function leaseRefusal(connection: ConnectionDocument, slot: CallSlot): LeaseRefusal | null {
  switch (slot.call) {
    case 'callback':
      return connection.state === slot.state ? null : 'moved-on';
    case 'provisioning':
      if (connection.state !== 'approved') return 'moved-on';
      return connection.provisioning?.status === 'done' ? 'finished' : null;
    case 'step':
      return connection.steps?.[slot.step]?.status === undefined ? null : 'finished';
  }
}

/** The fields the slot's lease sets besides the lease: the callback's status, from its state. */
export function slotLeaseFields(slot: CallSlot): Record<string, unknown> {
  return slot.call === 'callback' ? { 'callback.status': callbackStatusFor(slot.state) } : {};
}

/** The history event of a failed attempt of the slot's call, and the worker that makes it. */
export function failedAttemptEvent(slot: CallSlot): { event: string; by: string } {
  switch (slot.call) {
    case 'callback':
      return { event: 'callback_attempt_failed', by: 'approval-worker' };
    case 'provisioning':
      return { event: 'provisioning_attempt_failed', by: 'approval-worker' };
    case 'step':
      return { event: `${slot.step}_attempt_failed`, by: 'deprovision-worker' };
  }
}
