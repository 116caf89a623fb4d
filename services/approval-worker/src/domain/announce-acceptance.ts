// Announces an accepted connection to the deprovision worker (ConnectionAccepted), and marks it
// announced: the deprovision worker's reports must know the buyer had the API.
import { jobIdFor, type ConnectionAcceptedJob } from '@fortellis-admin/contracts';
import type { ConnectionDocument } from '@fortellis-admin/connection-store';
import type { Logger } from '@fortellis-admin/service-kit/pure';
import type { ApprovalUseCaseDeps } from './approval-ports.ts';

/** Publishes ConnectionAccepted (one job per connection, whatever the repeats). */
export async function publishAcceptance(
  deps: Pick<ApprovalUseCaseDeps, 'announceAccepted' | 'clock'>,
  connection: ConnectionDocument,
): Promise<void> {
  if (connection.subscriptionId === undefined)
    throw new Error(`connection ${connection.connectionId} has no subscription`);
  const message: ConnectionAcceptedJob = {
    connectionId: connection.connectionId,
    subscriptionId: connection.subscriptionId,
    acceptedAt: (
      connection.acceptedAt ??
      connection.callback?.completedAt ??
      deps.clock.now()
    ).toISOString(),
    requestId: connection.requestId ?? connection.connectionId,
  };
  await deps.announceAccepted(message, jobIdFor.connectionAccepted(message));
}

/**
 * Announces a connection recorded accepted (or being suspended) but not yet announced, and marks
 * it announced.
 */
export async function announceAcceptance(
  deps: ApprovalUseCaseDeps,
  connection: ConnectionDocument,
  log: Logger,
): Promise<void> {
  if (
    (connection.state !== 'accepted' && connection.state !== 'suspending') ||
    connection.acceptanceAnnounced === true ||
    connection.subscriptionId === undefined
  )
    return;
  await publishAcceptance(deps, connection);
  await deps.repo.markAcceptanceAnnounced(connection.connectionId);
  log.info('connection accepted and announced');
}
