// Moves a connection on from wherever it stands: provisions an approved buyer's account in the
// backend (provision.ts), sends the callback its decision or suspension calls for
// (send-callback.ts), announces an acceptance to the deprovision worker
// (announce-acceptance.ts), or leaves it as it is.
import type { AcquiredLease, ConnectionDocument } from '@fortellis-admin/connection-store';
import type { JobContext, Logger } from '@fortellis-admin/service-kit/pure';
import { announceAcceptance } from './announce-acceptance.ts';
import type { AdvanceStep, ApprovalUseCaseDeps, ProcessResult } from './approval-ports.ts';
import { needsProvisioning, provision } from './provision.ts';
import { sendCallback } from './send-callback.ts';

/** A lease taken by the write that produced the connection, and the call it is for. */
export interface TakenLease {
  lease: AcquiredLease;
  for: 'callback' | 'provisioning';
}

/**
 * Moves `connection` on. `taken` is the lease of its next call when the write that produced
 * `connection` took it (an activation stored already decided), so it is not taken again. A call
 * that finds the connection moved on by another run hands it back, and it is moved on from there.
 */
export async function advanceConnection(
  deps: ApprovalUseCaseDeps,
  connection: ConnectionDocument,
  job: JobContext,
  log: Logger,
  taken?: TakenLease,
): Promise<ProcessResult> {
  let step = await advanceOnce(deps, connection, job, log, taken);
  while ('movedOn' in step) step = await advanceOnce(deps, step.movedOn, job, log);
  return step;
}

/** The one move the connection's state calls for. */
async function advanceOnce(
  deps: ApprovalUseCaseDeps,
  connection: ConnectionDocument,
  job: JobContext,
  log: Logger,
  taken?: TakenLease,
): Promise<AdvanceStep> {
  const lease = (call: TakenLease['for']) => (taken?.for === call ? taken.lease : undefined);
  switch (connection.state) {
    case 'approved':
      if (needsProvisioning(deps, connection))
        return provision(deps, connection, job, log, lease('provisioning'));
      return sendCallback(deps, connection, connection.state, job, log, lease('callback'));
    case 'rejected':
      return sendCallback(deps, connection, connection.state, job, log, lease('callback'));
    case 'suspending':
      // An acceptance suspended before it was announced is announced first: the buyer had the
      // API, and the deprovision worker's reports must say so.
      await announceAcceptance(deps, connection, log);
      return sendCallback(deps, connection, connection.state, job, log, lease('callback'));
    case 'accepted':
      await announceAcceptance(deps, connection, log);
      return { connectionId: connection.connectionId, state: connection.state };
    case 'received':
    case 'pending_review':
    case 'provisioning_failed':
    case 'rejection_sent':
    case 'suspended':
    case 'callback_failed':
    case 'deactivated':
      return { connectionId: connection.connectionId, state: connection.state };
  }
}
