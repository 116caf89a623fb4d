// Provisions an approved buyer's account in the provider's backend, under its lease (the leased-call
// protocol: libs/service-kit/src/leased-call.ts), then sends the callback with its credentials. A
// repeated call (a retry, a worker that died mid-call) carries the same idempotency key, so the
// backend creates the account once and answers the same credentials: no ledger is needed. A
// refusal, an unusable answer, or failures past the retry horizon give up visibly:
// `provisioning_failed`, for an operator to retry.
import { formatIssues, type ContractIssue } from '@fortellis-admin/contracts';
import {
  getOrThrow,
  isLeaseUnavailable,
  unknownConnection,
  type AcquiredLease,
  type CallSlot,
  type ConnectionDocument,
  type ProvisioningFailure,
  type ProvisioningResult,
} from '@fortellis-admin/connection-store';
import {
  classifyHttpAnswer,
  permanentFailure,
  retryAfterOf,
  RetryLaterError,
  runLeasedCall,
  statusOf,
  type CallAttempt,
  type CallEnding,
  type Logger,
} from '@fortellis-admin/service-kit/pure';
import type { JobContext } from '@fortellis-admin/service-kit/pure';
import type { AdvanceStep, ApprovalUseCaseDeps } from './approval-ports.ts';
import { provisionRequest, readProvisionAnswer } from './provisioning-plan.ts';
import { sendCallback } from './send-callback.ts';

/** How provisioning ended: the account provisioned (with how many credentials), or given up. */
type ProvisioningEnd =
  | { provisioned: ProvisioningResult; credentialCount: number }
  | { failed: ProvisioningFailure & { note: string } };

/** An approved connection whose account the configured backend has not provisioned yet. */
export function needsProvisioning(
  deps: Pick<ApprovalUseCaseDeps, 'provisioner'>,
  connection: ConnectionDocument,
): boolean {
  return deps.provisioner.kind === 'http' && connection.provisioning?.status !== 'done';
}

/** Provisions the account under its lease (`taken` when the write before took it). */
export async function provision(
  deps: ApprovalUseCaseDeps,
  connection: ConnectionDocument,
  job: JobContext,
  log: Logger,
  taken: AcquiredLease | undefined,
): Promise<AdvanceStep> {
  const { connectionId } = connection;
  const leaseMs = deps.settings.provisioningLeaseMs;
  const slot: CallSlot = { call: 'provisioning' };
  const lease = taken ?? (await deps.repo.acquireCallLease(connectionId, slot, leaseMs));
  if (isLeaseUnavailable(lease)) {
    if (lease.why === 'unknown') throw unknownConnection(connectionId);
    return provisioningElsewhere(deps, lease.connection);
  }
  return runLeasedCall<ProvisioningEnd, AdvanceStep, CallAttempt>({
    lease,
    horizon: { since: job.publishedAt, limitMs: deps.settings.retryHorizonMs, clock: deps.clock },
    log,
    perform: async () => {
      const attempt = await deps.provisioner.provision(provisionRequest(connection));
      const status = statusOf(attempt);
      const verdict = classifyHttpAnswer(status, retryAfterOf(attempt));
      deps.recordCall?.('backend', verdict.kind);
      const error = attempt.answered ? undefined : attempt.error;
      log.info({ status, error, attempt: job.attempt }, 'provisioning attempt');
      return { attempt, verdict };
    },
    endOf: (made, ending) => provisioningEnd(deps, connectionId, made, ending),
    retryMessage: ({ attempt }) =>
      `provisioning answered ${attempt.answered ? attempt.status : attempt.error}`,
    release: (attempt) => deps.repo.releaseCallLease(connectionId, slot, lease.leaseId, attempt),
    complete: (end) => recordProvisioning(deps, connection, lease.leaseId, end, job, log),
  });
}

/**
 * The lease could not be taken (`now`: the connection as the store found it): a connection moved on
 * or provisioned goes back to the dispatch; one another run is provisioning is looked at again when
 * that run's lease ends at the latest.
 */
function provisioningElsewhere(deps: ApprovalUseCaseDeps, now: ConnectionDocument): AdvanceStep {
  if (now.state !== 'approved' || !needsProvisioning(deps, now)) return { movedOn: now };
  const leaseMs = deps.settings.provisioningLeaseMs;
  const until = now.provisioning?.leaseUntil?.getTime() ?? deps.clock.now().getTime() + leaseMs;
  throw new RetryLaterError(
    'another worker is provisioning this account',
    Math.max(100, until - deps.clock.now().getTime()),
  );
}

/**
 * How the backend's answer ends provisioning: the account and its credentials, sealed; or a give
 * up that keeps the backend's status and never its body (it may hold credentials).
 */
function provisioningEnd(
  deps: ApprovalUseCaseDeps,
  connectionId: string,
  { attempt }: CallAttempt,
  ending: CallEnding,
): ProvisioningEnd {
  const status = statusOf(attempt);
  const failed = (note: string, problems?: ContractIssue[]): ProvisioningEnd => ({
    failed: {
      ...(attempt.answered ? { httpStatus: attempt.status } : { error: attempt.error }),
      ...(problems === undefined ? {} : { problems }),
      note,
    },
  });
  switch (ending.kind) {
    case 'refused':
      return failed(`the backend refused with HTTP ${status ?? 'none'}`);
    case 'expired':
      return failed(`still failing after ${Math.round(ending.elapsedMs / 1000)} s: giving up`);
    case 'success':
      break;
  }
  const read = readProvisionAnswer(attempt.answered ? attempt.body : '');
  if ('problems' in read)
    return failed(
      `the backend's answer breaks the contract: ${formatIssues(read.problems)}`,
      read.problems,
    );
  const { accountId, credentials } = read.answer;
  const names = Object.keys(credentials ?? {});
  if (names.length > 0 && deps.sealer === undefined)
    return failed('the backend answered credentials, but no PROVISIONING_CREDENTIALS_KEY is set');
  return {
    provisioned: {
      httpStatus: status,
      accountId,
      ...(credentials === undefined || names.length === 0 || deps.sealer === undefined
        ? {}
        : { credentials: { names, sealed: deps.sealer.seal(credentials, connectionId) } }),
    },
    credentialCount: names.length,
  };
}

/**
 * Writes provisioning's end: a give-up fails the job for good; a provisioned account takes the
 * callback's lease in the same write, and the callback follows.
 */
async function recordProvisioning(
  deps: ApprovalUseCaseDeps,
  connection: ConnectionDocument,
  leaseId: string,
  end: ProvisioningEnd,
  job: JobContext,
  log: Logger,
): Promise<AdvanceStep> {
  const { connectionId } = connection;
  if ('failed' in end) {
    await deps.repo.failProvisioning(connectionId, leaseId, end.failed);
    deps.recordGiveUp?.('provisioning');
    throw permanentFailure(`provisioning: ${end.failed.note}`);
  }
  const done = await deps.repo.completeProvisioning(
    connectionId,
    leaseId,
    end.provisioned,
    deps.settings.callbackLeaseMs,
  );
  if (done === null) return { movedOn: await getOrThrow(deps.repo, connectionId) };
  log.info(
    { accountId: end.provisioned.accountId, credentials: end.credentialCount },
    'account provisioned',
  );
  return sendCallback(deps, done.connection, 'approved', job, log, done.callbackLease ?? undefined);
}
