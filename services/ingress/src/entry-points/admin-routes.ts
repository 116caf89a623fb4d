// The Fortellis-facing routes: POST {base}/activate and POST {base}/deactivate/{connectionId}.
// The token is verified before the body is read; the answer is sent only once the job is stored.
import type { FastifyPluginAsync, FastifyRequest } from 'fastify';
import {
  AppError,
  contracts,
  ContractViolationError,
  ERROR_CODES,
  isGuid,
  jobIdFor,
  JOB_NAMES,
  type ActivateRequest,
} from '@fortellis-admin/contracts';
import {
  activationJob,
  activationLinks,
  deactivationJob,
  deactivationLinks,
  type Receipt,
} from '../domain/acknowledgement.ts';
import type { JobPublisher } from '@fortellis-admin/service-kit';
import type { TokenVerifier, VerifiedToken } from '../domain/token-verifier.ts';

declare module 'fastify' {
  interface FastifyRequest {
    verifiedToken: VerifiedToken | null;
    /** The connection a call is about, once known; logged with the request's completion. */
    connectionId: string | null;
  }
}

export interface AdminRoutesOptions {
  verifier: Pick<TokenVerifier, 'verifyHeader'>;
  publisher: Pick<JobPublisher, 'publish'>;
  /** Where callers reach the Admin API, used in the answer's links (public URL + base path). */
  adminApiUrl: string;
  now: () => Date;
}

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i;

export const adminRoutes: FastifyPluginAsync<AdminRoutesOptions> = async (app, options) => {
  app.decorateRequest('verifiedToken', null);
  app.decorateRequest('connectionId', null);

  // Authentication comes first, before Fastify reads the body: a caller without a genuine token
  // gets 403 however large or malformed its body is.
  app.addHook('onRequest', async (request) => {
    request.verifiedToken = await options.verifier.verifyHeader(request.headers.authorization);
  });

  // Any body is read as raw text here; /activate decides what it accepts, /deactivate ignores it.
  app.removeAllContentTypeParsers();
  const defaultJson = app.getDefaultJsonParser('error', 'error');
  app.addContentTypeParser('*', { parseAs: 'string' }, (request, raw, done) => {
    const text = raw as string;
    if (!JSON_TYPE.test(request.headers['content-type'] ?? '') || text.length === 0) {
      done(null, text.length === 0 ? undefined : text);
      return;
    }
    void defaultJson(request, text, done);
  });

  const receipt = (request: FastifyRequest): Receipt => {
    if (request.verifiedToken === null) throw new Error('route reached without a verified token');
    return { requestId: request.id, receivedAt: options.now(), token: request.verifiedToken };
  };

  app.post('/activate', async (request, reply) => {
    if (!JSON_TYPE.test(request.headers['content-type'] ?? '')) {
      throw new AppError(
        ERROR_CODES.unsupportedMediaType,
        'Content-Type must be application/json',
        { httpStatus: 415 },
      );
    }
    const issues = contracts.activateRequest.issues(request.body);
    if (issues.length > 0) throw new ContractViolationError('activate request', issues);
    const activation = request.body as ActivateRequest;
    const job = activationJob(activation, receipt(request));
    await options.publisher.publish(
      JOB_NAMES.activationReceived,
      job,
      jobIdFor.activationReceived(job),
    );
    // Logged once, with the request's completion line (app.ts).
    request.connectionId = activation.connectionId;
    return reply.send(activationLinks(options.adminApiUrl, activation.connectionId));
  });

  app.post<{ Params: { connectionId: string } }>(
    '/deactivate/:connectionId',
    async (request, reply) => {
      const { connectionId } = request.params;
      if (!isGuid(connectionId)) {
        throw new ContractViolationError('deactivate request', [
          { pointer: '/connectionId', message: 'must be a valid guid' },
        ]);
      }
      const job = deactivationJob(connectionId, receipt(request));
      await options.publisher.publish(
        JOB_NAMES.deactivationReceived,
        job,
        jobIdFor.deactivationReceived(job),
      );
      request.connectionId = connectionId;
      return reply.send(deactivationLinks(options.adminApiUrl, connectionId));
    },
  );
};
