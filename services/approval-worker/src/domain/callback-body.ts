// What the Fortellis callback carries: the decision, the account's credentials (opened from their
// seal), or the suspension's reason; and what may be kept of Fortellis' answer to a failed one.
import { AppError, ERROR_CODES, type ConnectionCallbackBody } from '@fortellis-admin/contracts';
import type { CallbackDueState, ConnectionDocument } from '@fortellis-admin/connection-store';
import { redactedBody } from '@fortellis-admin/service-kit/pure';
import { DEFAULT_REJECTION_REASON } from '@fortellis-admin/approval-rules';
import type { ApprovalUseCaseDeps } from './approval-ports.ts';

/**
 * The callback's body: the decision, the account's credentials, or the suspension's reason.
 * Throws when sealed credentials wait to be sent but cannot be opened.
 */
export function callbackBody(
  deps: Pick<ApprovalUseCaseDeps, 'sealer'>,
  connection: ConnectionDocument,
  from: CallbackDueState,
): ConnectionCallbackBody {
  if (from === 'approved') {
    const sealed = connection.provisioning?.credentials;
    if (sealed === undefined) return { status: 'accepted' };
    if (deps.sealer === undefined)
      throw new AppError(
        ERROR_CODES.configInvalid,
        'sealed credentials wait to be sent, but no PROVISIONING_CREDENTIALS_KEY is set',
        { permanent: true },
      );
    return {
      status: 'accepted',
      auth: deps.sealer.open(sealed, connection.connectionId),
    };
  }
  const reason =
    from === 'suspending'
      ? connection.suspension?.reason
      : (connection.decision?.reason ?? DEFAULT_REJECTION_REASON);
  return {
    status: 'rejected',
    error: reason ?? DEFAULT_REJECTION_REASON,
  };
}

/**
 * What may be kept of Fortellis' answer to a failed callback: nothing when the callback carried
 * the buyer's credentials (an answer may quote what it was sent), else its body without the
 * bearer tokens it was sent with.
 */
export function keptCallbackAnswer(
  answer: string,
  sent: ConnectionCallbackBody,
  tokens: readonly string[],
): { body?: string } {
  if (sent.auth !== undefined) return {};
  return { body: redactedBody(answer, tokens) };
}
