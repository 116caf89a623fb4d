// The clean-up step's call: removes the buyer's accounts from the provider's backend, unless there
// is nothing to remove (no backend configured, never activated, never accepted nor provisioned).
import {
  provisioningAttempted,
  provisioningInFlightUntil,
  wasAccepted,
  type ConnectionDocument,
} from '@fortellis-admin/connection-store';
import {
  classifyHttpAnswer,
  retryAfterOf,
  RetryLaterError,
  statusOf,
} from '@fortellis-admin/service-kit/pure';
import { backendRequest, neverActivated } from './deprovision-plan.ts';
import type { DeprovisionUseCaseDeps } from './deprovision-ports.ts';
import type { Performed } from './run-step.ts';

/** The clean-up of `connection`'s backend accounts, as run-step.ts performs it. */
export function cleanUpAccount(
  deps: DeprovisionUseCaseDeps,
  connection: ConnectionDocument,
): () => Promise<Performed> {
  return async () => {
    if (deps.deprovisioner.kind === 'none')
      return { skipped: 'BACKEND_DEPROVISIONER is none: no backend accounts to clean up' };
    if (neverActivated(connection)) return { skipped: 'never activated: nothing was provisioned' };
    // An account provisioned for a connection whose callback then failed (or that was
    // deactivated while provisioning) is removed as well.
    if (!wasAccepted(connection) && !provisioningAttempted(connection))
      return { skipped: 'never accepted: the buyer never had the API, nothing was provisioned' };
    const inFlight = provisioningInFlightUntil(connection, deps.clock.now());
    if (inFlight !== null)
      throw new RetryLaterError(
        'the account is still being provisioned: cleaning up once that call has ended',
        inFlight.getTime() - deps.clock.now().getTime(),
      );
    const attempt = await deps.deprovisioner.deprovision(backendRequest(connection));
    if (attempt === undefined) return { skipped: 'the deprovisioner has nothing to call' };
    // No `keptBody`: the backend's answer may hold the account's credentials.
    return { attempt, verdict: classifyHttpAnswer(statusOf(attempt), retryAfterOf(attempt)) };
  };
}
