// The ingress's error handler: service-kit's shared mapping, plus refused Fortellis tokens
// answered 403 and counted by reason.
import type { FastifyInstance } from 'fastify';
import { installHttpErrorHandler } from '@fortellis-admin/service-kit';
import { AuthenticationError, type AuthFailureReason } from '../domain/token-verifier.ts';

/** Counts of refused tokens by reason, since start. */
export type AuthFailureCounts = Map<AuthFailureReason, number>;

export function installErrorHandler(
  app: FastifyInstance,
  authFailures: AuthFailureCounts,
  onAuthFailure?: (reason: AuthFailureReason) => void,
): void {
  installHttpErrorHandler(app, {
    answer: (error, request) => {
      if (!(error instanceof AuthenticationError)) return undefined;
      const count = (authFailures.get(error.reason) ?? 0) + 1;
      authFailures.set(error.reason, count);
      onAuthFailure?.(error.reason);
      request.log.warn(
        { event: 'auth_failure', reason: error.reason, countForReason: count },
        'token refused',
      );
      return { status: 403, error: error.code, message: error.message };
    },
  });
}
