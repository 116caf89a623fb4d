// The status-report steps' call: tells the integration platform's status API that the integration
// was deactivated (or activated), with its own client-credentials token, unless there is nothing
// to report (no status API configured, never activated, never accepted).
import { wasAccepted, type ConnectionDocument } from '@fortellis-admin/connection-store';
import {
  attemptWithToken,
  classifyHttpAnswer,
  redactedBody,
  retryAfterOf,
  statusOf,
  type HttpAnswerRules,
} from '@fortellis-admin/service-kit/pure';
import { neverActivated, statusReport } from './deprovision-plan.ts';
import type { DeprovisionUseCaseDeps } from './deprovision-ports.ts';
import type { Performed } from './run-step.ts';

/** The status API's answers: only 204 is done; a 401 asks for a fresh token once. */
const STATUS_ANSWER_RULES: HttpAnswerRules = {
  isSuccess: (status) => status === 204,
  reauthenticateOn: [401],
};

/** The report of `connection`'s deactivation (or activation), as run-step.ts performs it. */
export function reportStatus(
  deps: DeprovisionUseCaseDeps,
  connection: ConnectionDocument,
  kind: 'deactivation' | 'activation',
): () => Promise<Performed> {
  return async () => {
    const status = deps.status;
    if (status === undefined)
      return { skipped: 'INTEGRATION_STATUS_BASE_URL is not set: not reported' };
    if (neverActivated(connection)) return { skipped: 'never activated: nothing to report' };
    if (!wasAccepted(connection))
      return { skipped: 'never accepted: no integration was activated' };
    const body = statusReport(kind, status);
    const { attempt, verdict, sentWith } = await attemptWithToken(
      status.client.tokens,
      (token) => status.client.report(body, token),
      (answer, reauthenticated) =>
        classifyHttpAnswer(
          statusOf(answer),
          retryAfterOf(answer),
          STATUS_ANSWER_RULES,
          reauthenticated,
        ),
    );
    // The status API is sent no secret but its token: its answer is kept without the token.
    return {
      attempt,
      verdict,
      ...(attempt.answered ? { keptBody: redactedBody(attempt.body, sentWith) } : {}),
    };
  };
}
