// Cleans up the provider's backend accounts of a connection. Two adapters ship: `http` calls the
// provider's endpoint; `none` is the explicit choice of a provider with nothing to clean.
import { BackendEndpoint, type HttpAttempt } from '@fortellis-admin/service-kit';
import type { AccountDeprovisioner } from '../domain/deprovision-ports.ts';
import type { BackendDeprovisionRequest } from '../domain/deprovision-plan.ts';

export class HttpAccountDeprovisioner implements AccountDeprovisioner {
  readonly kind = 'http';
  readonly #endpoint: BackendEndpoint;

  constructor(options: ConstructorParameters<typeof BackendEndpoint>[0]) {
    this.#endpoint = new BackendEndpoint(options);
  }

  deprovision(request: BackendDeprovisionRequest): Promise<HttpAttempt> {
    // The connection id doubles as an idempotency key for backends that want one.
    return this.#endpoint.post(request, request.connectionId);
  }
}

export class NoAccountDeprovisioner implements AccountDeprovisioner {
  readonly kind = 'none';

  async deprovision(): Promise<undefined> {
    return undefined;
  }
}
