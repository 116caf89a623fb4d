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

export class NoAccountProvisioner implements AccountProvisioner {
  readonly kind = 'none';

  provision(): Promise<HttpAttempt> {
    return Promise.reject(new Error('BACKEND_PROVISIONER is none: there is nothing to call'));
  }
}
