// Writes of the buyer's account in the provider's backend, made before the `accepted` callback
// (its lease is taken and given back in call-lease-store.ts): its end (which takes the callback's
// lease in the same write), a give-up, and an operator's reopening.
import { randomUUID } from 'node:crypto';
import type { ContractIssue } from '@fortellis-admin/contracts';
import type { ActivationStore } from './activation-store.ts';
import type { ConnectionCollection } from './connection-collection.ts';
import { callbackStatusFor, historyEntry, outcomeDetail } from './connection-state-machine.ts';
import type { ConnectionDocument, SealedCredentials } from './connection-states.ts';
import {
  acquireLease,
  completeLease,
  mergeUpdates,
  reopenedFields,
  type AcquiredLease,
} from './outside-call-lease.ts';

const PATH = 'provisioning';

/** What the backend gave for the account. Credentials come sealed; their names are kept apart. */
export interface ProvisioningResult {
  httpStatus?: number | undefined;
  accountId?: string | undefined;
  credentials?: { names: string[]; sealed: SealedCredentials } | undefined;
}

/**
 * Why provisioning was given up: the backend's status (never its body: it may hold credentials),
 * the problems of an answer that broke the contract, or the error; and a note.
 */
export interface ProvisioningFailure {
  httpStatus?: number | undefined;
  problems?: readonly ContractIssue[] | undefined;
  error?: string | undefined;
  note?: string | undefined;
}

export class ProvisioningStore {
  readonly #c: ConnectionCollection;
  readonly #activations: ActivationStore;

  constructor(connections: ConnectionCollection, activations: ActivationStore) {
    this.#c = connections;
    this.#activations = activations;
  }

  /**
   * Records the provisioned account under the lease and, in the same write, takes the callback's
   * lease (`callbackLeaseMs`), so the callback follows without another write. Returns the
   * connection and the callback's lease; null when the lease is no longer held.
   */
  async completeProvisioning(
    connectionId: string,
    leaseId: string,
    result: ProvisioningResult,
    callbackLeaseMs: number,
  ): Promise<{ connection: ConnectionDocument; callbackLease: AcquiredLease | null } | null> {
    const now = this.#c.now();
    const done = completeLease(
      PATH,
      { httpStatus: result.httpStatus, failed: false },
      now,
      {
        [`${PATH}.status`]: 'done',
        ...(result.accountId === undefined ? {} : { [`${PATH}.accountId`]: result.accountId }),
        ...(result.credentials === undefined
          ? {}
          : {
              [`${PATH}.credentialNames`]: result.credentials.names,
              [`${PATH}.credentials`]: result.credentials.sealed,
            }),
      },
      historyEntry({
        at: now,
        event: 'provisioned',
        by: 'approval-worker',
        detail: [
          result.accountId === undefined ? 'no account id' : `account ${result.accountId}`,
          `${result.credentials?.names.length ?? 0} credential(s)`,
        ].join(', '),
      }),
    );
    const condition = { state: 'approved' as const, [`${PATH}.leaseId`]: leaseId };
    // The callback was never attempted (provisioning comes first): its lease is free to take.
    const callbackLeaseId = randomUUID();
    const both = await this.#c.applyIf(
      connectionId,
      { ...condition, 'callback.leaseId': { $exists: false } },
      mergeUpdates(
        done,
        acquireLease(
          'callback',
          { leaseId: callbackLeaseId, now, leaseMs: callbackLeaseMs },
          { 'callback.status': callbackStatusFor('approved') },
        ),
      ),
    );
    if (both !== null) return { connection: both, callbackLease: { leaseId: callbackLeaseId } };
    const alone = await this.#c.applyIf(connectionId, condition, done);
    return alone === null ? null : { connection: alone, callbackLease: null };
  }

  /** Gives provisioning up under the lease: `approved` → `provisioning_failed`. */
  failProvisioning(
    connectionId: string,
    leaseId: string,
    failure: ProvisioningFailure,
  ): Promise<ConnectionDocument | null> {
    const now = this.#c.now();
    return this.#c.applyIf(
      connectionId,
      { state: 'approved', [`${PATH}.leaseId`]: leaseId },
      completeLease(
        PATH,
        {
          httpStatus: failure.httpStatus,
          error: failure.error,
          problems: failure.problems,
          failed: true,
        },
        now,
        { state: 'provisioning_failed', [`${PATH}.status`]: 'failed' },
        historyEntry({
          at: now,
          event: 'provisioning_failed',
          from: 'approved',
          to: 'provisioning_failed',
          by: 'approval-worker',
          detail: outcomeDetail({
            httpStatus: failure.httpStatus,
            error: failure.error,
            note: failure.note,
          }),
        }),
      ),
    );
  }

  /** An operator's retry: `provisioning_failed` → `approved`, attempts kept. */
  reopenProvisioning(connectionId: string, by: string): Promise<ConnectionDocument | null> {
    return this.#activations.transition(connectionId, ['provisioning_failed'], 'approved', {
      event: 'operator_retry_provisioning',
      by,
      unset: reopenedFields(PATH, 'status'),
    });
  }
}
