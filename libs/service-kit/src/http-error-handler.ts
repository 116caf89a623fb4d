// The one Fastify error handler of the HTTP services: maps the AppError family and Fastify's own
// request errors to `{code, message, error}`; 5xx details never reach the caller.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  AppError,
  ERROR_CODES,
  type ErrorCode,
  type ErrorResponse,
} from '@fortellis-admin/contracts';

/** The answer body every refusal gets: `{code, message, error}`. */
export function errorBody(status: number, error: ErrorCode, message: string): ErrorResponse {
  return { code: status, message, error };
}

/** An answer a service decides itself for an error it knows better than the generic mapping. */
export interface ErrorAnswer {
  status: number;
  error: ErrorCode;
  message: string;
}

export interface HttpErrorHandlerOptions {
  /**
   * Runs before the generic mapping: an error it recognises gets the answer it returns (and
   * whatever logging or counting it does); undefined leaves the error to the generic mapping.
   */
  answer?(error: Error, request: FastifyRequest): ErrorAnswer | undefined;
}

/** Fastify's own errors for bad requests, with the answer each one gets. */
const FASTIFY_ERRORS: Record<string, ErrorAnswer> = {
  FST_ERR_CTP_BODY_TOO_LARGE: {
    status: 413,
    error: ERROR_CODES.payloadTooLarge,
    message: 'the request body is too large',
  },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: {
    status: 415,
    error: ERROR_CODES.unsupportedMediaType,
    message: 'unsupported Content-Type',
  },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: {
    status: 400,
    error: ERROR_CODES.malformedJson,
    message: 'the request body does not match its Content-Length',
  },
  FST_ERR_CTP_EMPTY_JSON_BODY: {
    status: 400,
    error: ERROR_CODES.malformedJson,
    message: 'the request body is empty',
  },
};

/**
 * Answers an AppError from a hook directly: for routes of plugins that install their own error
 * handler (Bull Board does), so the answer is still `{code, message, error}`.
 */
export function replyWithAppError(reply: FastifyReply, error: AppError): FastifyReply {
  const status = error.httpStatus ?? 500;
  return reply.code(status).send(errorBody(status, error.code, error.message));
}

/** Installs the error handler and the `{code, message, error}` 404 of unknown routes. */
export function installHttpErrorHandler(
  app: FastifyInstance,
  options: HttpErrorHandlerOptions = {},
): void {
  app.setErrorHandler((error: FastifyError | AppError | Error, request, reply) => {
    const special = options.answer?.(error, request);
    if (special !== undefined) {
      return reply
        .code(special.status)
        .send(errorBody(special.status, special.error, special.message));
    }
    if (error instanceof AppError && error.httpStatus !== undefined) {
      if (error.httpStatus >= 500) {
        request.log.error(
          { err: error, cause: error.cause, error: error.code },
          'request could not be served',
        );
      } else {
        request.log.info({ error: error.code, problem: error.message }, 'request refused');
      }
      return reply
        .code(error.httpStatus)
        .send(errorBody(error.httpStatus, error.code, error.message));
    }
    const known =
      'code' in error && typeof error.code === 'string' ? FASTIFY_ERRORS[error.code] : undefined;
    if (known !== undefined) {
      request.log.info({ error: known.error }, 'request refused');
      return reply.code(known.status).send(errorBody(known.status, known.error, known.message));
    }
    if (error instanceof SyntaxError || ('statusCode' in error && error.statusCode === 400)) {
      // Fastify's JSON parser raises a SyntaxError-like 400 for malformed bodies.
      request.log.info({ error: ERROR_CODES.malformedJson }, 'request refused');
      return reply
        .code(400)
        .send(errorBody(400, ERROR_CODES.malformedJson, 'the request body is not valid JSON'));
    }
    request.log.error({ err: error }, 'unexpected error');
    return reply.code(500).send(errorBody(500, ERROR_CODES.internal, 'internal error'));
  });

  app.setNotFoundHandler((request, reply) =>
    reply
      .code(404)
      .send(
        errorBody(
          404,
          ERROR_CODES.routeNotFound,
          `no route ${request.method} ${request.url.split('?')[0]}`,
        ),
      ),
  );
}
