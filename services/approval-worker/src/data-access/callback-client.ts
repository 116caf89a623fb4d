// Sends the connection callback to Fortellis: POST {base}/connections/{connectionId}/callback.
import { request } from 'undici';
import type { ConnectionCallbackBody } from '@fortellis-admin/contracts';

/** What one attempt produced: an answer, or no answer (network error, timeout). */
export type CallbackAttempt =
  | { answered: true; status: number; body: string; retryAfter?: string }
  | { answered: false; error: string };

export interface CallbackClientOptions {
  baseUrl: string;
  timeoutMs: number;
}

export class CallbackClient {
  readonly #options: CallbackClientOptions;

  constructor(options: CallbackClientOptions) {
    this.#options = options;
  }

  async send(
    connectionId: string,
    body: ConnectionCallbackBody,
    token: string,
    requestId: string,
  ): Promise<CallbackAttempt> {
    try {
      const response = await request(
        `${this.#options.baseUrl}/connections/${encodeURIComponent(connectionId)}/callback`,
        {
          method: 'POST',
          headers: {
            authorization: `Bearer ${token}`,
            'content-type': 'application/json',
            accept: 'application/json',
            'request-id': requestId,
          },
          body: JSON.stringify(body),
          headersTimeout: this.#options.timeoutMs,
          bodyTimeout: this.#options.timeoutMs,
        },
      );
      const text = await response.body.text();
      const retryAfter = response.headers['retry-after'];
      return {
        answered: true,
        status: response.statusCode,
        body: text,
        ...(typeof retryAfter === 'string' ? { retryAfter } : {}),
      };
    } catch (error) {
      return {
        answered: false,
        error: error instanceof Error ? `${error.name}: ${error.message}` : String(error),
      };
    }
  }
}
