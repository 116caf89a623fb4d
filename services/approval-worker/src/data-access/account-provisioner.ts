// Provisions the buyer's account in the provider's backend. Two adapters ship: `http` calls the
// provider's endpoint with the connection id as idempotency key; `none` is the explicit choice of
// a provider with nothing to create (the callback then carries no credentials).
import type { BackendProvisionRequest } from '@fortellis-admin/contracts';
import { postJson, type HttpAttempt } from '@fortellis-admin/service-kit';
import type { AccountProvisioner } from '../domain/approval-ports.ts';

export class HttpAccountProvisioner implements AccountProvisioner {
  readonly kind = 'http';
  readonly #url: string;
  readonly #headers: Record<string, string>;
  readonly #timeoutMs: number;

  constructor(options: {
    url: string;
    secret?: string | undefined;
    header?: string | undefined;
    timeoutMs: number;
  }) {
    this.#url = options.url;
    this.#timeoutMs = options.timeoutMs;
    this.#headers =
      options.secret === undefined
        ? {}
        : options.header === undefined
          ? { authorization: `Bearer ${options.secret}` }
          : { [options.header.toLowerCase()]: options.secret };
  }

  provision(request: BackendProvisionRequest): Promise<HttpAttempt> {
    return postJson(
      this.#url,
      request,
      { ...this.#headers, 'idempotency-key': request.connectionId },
      this.#timeoutMs,
    );
  }
}

export class NoAccountProvisioner implements AccountProvisioner {
  readonly kind = 'none';

  provision(): Promise<HttpAttempt> {
    return Promise.reject(new Error('BACKEND_PROVISIONER is none: there is nothing to call'));
  }
}
