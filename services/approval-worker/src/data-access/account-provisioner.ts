// Provisions the buyer's account in the provider's backend. Two adapters ship: `http` calls the
// provider's endpoint with the connection id as idempotency key; `none` is the explicit choice of
// a provider with nothing to create (the callback then carries no credentials).
import type { BackendProvisionRequest } from '@fortellis-admin/contracts';
import { BackendEndpoint, type HttpAttempt } from '@fortellis-admin/service-kit';
import type { AccountProvisioner } from '../domain/approval-ports.ts';

export class HttpAccountProvisioner implements AccountProvisioner {
  readonly kind = 'http';
  readonly #endpoint: BackendEndpoint;

  constructor(options: ConstructorParameters<typeof BackendEndpoint>[0]) {
    this.#endpoint = new BackendEndpoint(options);
  }

  provision(request: BackendProvisionRequest): Promise<HttpAttempt> {
    return this.#endpoint.post(request, request.connectionId);
  }
}

/**
 * BACKEND_PROVISIONER=none: there is no account to create, and the use cases never call
 * `provision` (a connection needs provisioning only with kind `http`: domain/provision.ts,
 * needsProvisioning). Were it called all the same, it keeps the port's promise and throws nothing:
 * it answers as a backend that cannot be reached, which the leased-call protocol retries and, past
 * the horizon, gives up visibly (`provisioning_failed`).
 */
export class NoAccountProvisioner implements AccountProvisioner {
  readonly kind = 'none';

  provision(): Promise<HttpAttempt> {
    return Promise.resolve({
      answered: false,
      error: 'BACKEND_PROVISIONER is none: there is nothing to call',
    });
  }
}
