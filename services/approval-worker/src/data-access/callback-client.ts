// Sends the connection callback to Fortellis: POST {base}/connections/{connectionId}/callback.
import { type ConnectionCallbackBody } from '@fortellis-admin/contracts';
import { postJson, type HttpAttempt } from '@fortellis-admin/service-kit';

export type CallbackAttempt = HttpAttempt;

export interface CallbackClientOptions {
  baseUrl: string;
  timeoutMs: number;
}

export class CallbackClient {
  readonly #options: CallbackClientOptions;

  constructor(options: CallbackClientOptions) {
    this.#options = options;
  }

  send(
    connectionId: string,
    body: ConnectionCallbackBody,
    token: string,
    requestId: string,
  ): Promise<CallbackAttempt> {
    return postJson(
      `${this.#options.baseUrl}/connections/${encodeURIComponent(connectionId)}/callback`,
      body,
      { authorization: `Bearer ${token}`, 'request-id': requestId },
      this.#options.timeoutMs,
    );
  }
}
