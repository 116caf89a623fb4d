// Cleans up the provider's backend accounts of a connection. Two adapters ship: `http` calls the
// provider's endpoint; `none` is the explicit choice of a provider with nothing to clean.
import { postJson, type HttpAttempt } from '@fortellis-admin/service-kit';
import type { AccountDeprovisioner } from '../domain/deprovision-ports.ts';
import type { BackendDeprovisionRequest } from '../domain/deprovision-plan.ts';

export class HttpAccountDeprovisioner implements AccountDeprovisioner {
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

  deprovision(request: BackendDeprovisionRequest): Promise<HttpAttempt> {
    // The connection id doubles as an idempotency key for backends that want one.
    return postJson(
      this.#url,
      request,
      { ...this.#headers, 'idempotency-key': request.connectionId },
      this.#timeoutMs,
    );
  }
}

export class NoAccountDeprovisioner implements AccountDeprovisioner {
  readonly kind = 'none';

  async deprovision(): Promise<undefined> {
    return undefined;
  }
}
