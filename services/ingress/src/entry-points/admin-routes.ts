// The Fortellis-facing routes: POST {base}/activate and POST {base}/deactivate/{connectionId}.
// The token is verified before the body is read; the answer is sent only once the job is stored.
// A body is judged on what it holds, never on its declared Content-Type: the spec defines it as
// JSON and lists no 415, and Fortellis resends nothing it was refused.
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import {
  contracts,
  ContractViolationError,
  isGuid,
  jobIdFor,
  JOB_NAMES,
  type ActivateRequest,
  type LinksResponse,
} from '@fortellis-admin/contracts';
import {
  activationJob,
  activationLinks,
  deactivationJob,
  deactivationLinks,
  minimalLinks,
  type Receipt,
} from '../domain/acknowledgement.ts';
import { prefersMinimalReturn } from '../domain/prefer-header.ts';
import type { JobPublisher } from '@fortellis-admin/service-kit';
import type { TokenVerifier, VerifiedToken } from '../domain/token-verifier.ts';

declare module 'fastify' {
  interface FastifyRequest {
    verifiedToken: VerifiedToken | null;
    /** The connection a call is about, once known; logged with the request's completion. */
    connectionId: string | null;
    /** The Content-Type the caller declared (logged), once its token is verified. */
    declaredContentType: string | null;
  }
}

export interface AdminRoutesOptions {
  verifier: Pick<TokenVerifier, 'verifyHeader'>;
  publisher: Pick<JobPublisher, 'publish'>;
  /** Where callers reach the Admin API, used in the answer's links (public URL + base path). */
  adminApiUrl: string;
  now: () => Date;
}

export const adminRoutes: FastifyPluginAsync<AdminRoutesOptions> = async (app, options) => {
  app.decorateRequest('verifiedToken', null);
  app.decorateRequest('connectionId', null);
  app.decorateRequest('declaredContentType', null);

  // Authentication comes first, before Fastify reads the body: a caller without a genuine token
  // gets 403 however large or malformed its body is.
  app.addHook('onRequest', async (request) => {
    request.verifiedToken = await options.verifier.verifyHeader(request.headers.authorization);
    // Fastify answers 415 for a Content-Type it cannot parse before any parser runs. Every body
    // is read as text anyway, so once the caller is known to be Fortellis its declared type is
    // kept for the log and replaced by one every parse accepts.
    const declared = request.headers['content-type'];
    if (declared !== undefined) {
      request.declaredContentType = declared;
      request.raw.headers['content-type'] = 'text/plain';
    }
  });

  // Every body is read as text (within the body limit), whatever its declared type or none:
  // /activate parses it as JSON, /deactivate ignores it.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, raw, done) => {
    const text = raw as string;
    done(null, text.length === 0 ? undefined : text);
  });
  // Fastify's own JSON parser: __proto__ and constructor keys are refused as malformed.
  const defaultJson = app.getDefaultJsonParser('error', 'error');
  const parseJson = (request: FastifyRequest, text: string) =>
    new Promise<unknown>((resolve, reject) => {
      void defaultJson(request, text, (error, parsed) =>
        error === null ? resolve(parsed) : reject(error),
      );
    });

  const receipt = (request: FastifyRequest): Receipt => {
    if (request.verifiedToken === null) throw new Error('route reached without a verified token');
    return { requestId: request.id, receivedAt: options.now(), token: request.verifiedToken };
  };

  app.post('/activate', async (request, reply) => {
    const body =
      typeof request.body === 'string' ? await parseJson(request, request.body) : undefined;
    const issues = contracts.activateRequest.issues(body);
    if (issues.length > 0) throw new ContractViolationError('activate request', issues);
    const activation = body as ActivateRequest;
    const job = activationJob(activation, receipt(request));
    await options.publisher.publish(
      JOB_NAMES.activationReceived,
      job,
      jobIdFor.activationReceived(job),
    );
    // Logged once, with the request's completion line (app.ts).
    request.connectionId = activation.connectionId;
    return answer(request, reply, activationLinks(options.adminApiUrl, activation.connectionId));
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
      return answer(request, reply, deactivationLinks(options.adminApiUrl, connectionId));
    },
  );
};

/**
 * The 200 answer: the links, always JSON. `Prefer: return=minimal` (RFC 7240) gets the minimal
 * representation the spec allows, each link's required `href` and `rel` only, and says so in
 * `Preference-Applied`; the answer still parses as the spec's links body.
 */
function answer(request: FastifyRequest, reply: FastifyReply, links: LinksResponse) {
  void reply.header('vary', 'Prefer');
  if (!prefersMinimalReturn(request.headers.prefer)) return reply.send(links);
  void reply.header('preference-applied', 'return=minimal');
  return reply.send(minimalLinks(links));
}
