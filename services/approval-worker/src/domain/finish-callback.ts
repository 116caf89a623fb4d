// Writes the end of the Fortellis callback: a failed end fails the job for good, an acknowledged
// one moves the connection on (and an acknowledged `accepted` is announced to the deprovision
// worker, in the same write when it can be).
import type {
  CallbackDueState,
  CallbackEnd as StoredCallbackEnd,
  ConnectionDocument,
} from '@fortellis-admin/connection-store';
import { getOrThrow } from '@fortellis-admin/connection-store';
import { permanentFailure, type Logger } from '@fortellis-admin/service-kit/pure';
import { announceAcceptance, publishAcceptance } from './announce-acceptance.ts';
import type { ApprovalUseCaseDeps, ProcessResult } from './approval-ports.ts';

/** How a callback ended, as the ledger and the database record it; `giveUp` says why it failed. */
export type CallbackEnd = StoredCallbackEnd & { giveUp?: string };

/**
 * Writes the callback's end; a failed end fails the job for good, an acknowledged one goes on.
 * An acknowledged `accepted` is announced to the deprovision worker first, so the same write
 * records both; if the announcement cannot be published, the end is written without it and the
 * announcement is tried again (by this job's retry, or the reconciler).
 */
export async function finishCallback(
  deps: ApprovalUseCaseDeps,
  connection: ConnectionDocument,
  leaseId: string,
  from: CallbackDueState,
  end: CallbackEnd,
  log: Logger,
): Promise<ProcessResult> {
  const { connectionId } = connection;
  const { giveUp, ...result } = end;
  let announced = false;
  if (end.outcome === 'acknowledged' && from === 'approved') {
    announced = await publishAcceptance(deps, connection).then(
      () => true,
      (error: unknown) => {
        log.warn({ err: error }, 'acceptance not announced yet: recording the callback first');
        return false;
      },
    );
  }
  const done = await deps.repo.completeCallback(connectionId, leaseId, from, result, {
    announced,
  });
  if (end.outcome === 'failed') {
    deps.recordGiveUp?.('callback');
    throw permanentFailure(giveUp ?? 'callback failed');
  }
  if (done === null)
    return { connectionId, state: (await getOrThrow(deps.repo, connectionId)).state };
  if (announced) log.info('connection accepted and announced');
  else await announceAcceptance(deps, done, log);
  return { connectionId, state: done.state };
}
