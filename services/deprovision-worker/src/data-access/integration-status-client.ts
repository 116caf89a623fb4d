// Reports integration status to the integration platform:
// POST {base}/api/integration_management/v2/status?tenantID={tenant} with a bearer token from
// {base}/api/2/idp/token (client credentials, cached, refreshed once on 401).
import { type IntegrationStatusBody } from '@fortellis-admin/contracts';
import {
  ClientCredentialsTokenClient,
  postJson,
  type HttpAttempt,
} from '@fortellis-admin/service-kit';

export interface IntegrationStatusClientOptions {
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  tenantId?: string | undefined;
  timeoutMs: number;
}

export class IntegrationStatusClient {
  readonly #options: IntegrationStatusClientOptions;
  readonly tokens: ClientCredentialsTokenClient;

  constructor(options: IntegrationStatusClientOptions) {
    this.#options = options;
    this.tokens = new ClientCredentialsTokenClient({
      tokenUrl: `${options.baseUrl}/api/2/idp/token`,
      clientId: options.clientId,
      clientSecret: options.clientSecret,
      timeoutMs: options.timeoutMs,
    });
  }

  /** One report with the given token. Without a tenant, the token's own tenant is used. */
  report(body: IntegrationStatusBody, token: string): Promise<HttpAttempt> {
    const tenant =
      this.#options.tenantId === undefined
        ? ''
        : `?tenantID=${encodeURIComponent(this.#options.tenantId)}`;
    return postJson(
      `${this.#options.baseUrl}/api/integration_management/v2/status${tenant}`,
      body,
      { authorization: `Bearer ${token}` },
      this.#options.timeoutMs,
    );
  }
}
