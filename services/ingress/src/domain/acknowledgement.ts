// Pure construction of what the ingress publishes and answers: job payloads and links.
import type {
  ActivateRequest,
  ActivationReceivedJob,
  DeactivationReceivedJob,
  LinksResponse,
} from '@fortellis-admin/contracts';
import type { VerifiedToken } from './token-verifier.ts';

export interface Receipt {
  requestId: string;
  receivedAt: Date;
  token: VerifiedToken;
}

export function activationJob(
  activation: ActivateRequest,
  receipt: Receipt,
): ActivationReceivedJob {
  return {
    activation,
    requestId: receipt.requestId,
    receivedAt: receipt.receivedAt.toISOString(),
    token: { jti: receipt.token.jti, sub: receipt.token.sub },
  };
}

export function deactivationJob(connectionId: string, receipt: Receipt): DeactivationReceivedJob {
  return {
    connectionId,
    requestId: receipt.requestId,
    receivedAt: receipt.receivedAt.toISOString(),
    token: { jti: receipt.token.jti, sub: receipt.token.sub },
  };
}

/**
 * The links of a 200 answer. `adminApiUrl` is where callers reach the Admin API (the configured
 * public URL plus base path, or a path alone when no public URL is configured).
 */
export function activationLinks(adminApiUrl: string, connectionId: string): LinksResponse {
  return {
    links: [
      {
        href: `${adminApiUrl}/activate`,
        rel: 'self',
        method: 'POST',
        title: 'Activation received and queued for approval',
      },
      {
        href: `${adminApiUrl}/deactivate/${connectionId}`,
        rel: 'deactivate',
        method: 'POST',
        title: 'Deactivate this connection',
      },
    ],
  };
}

export function deactivationLinks(adminApiUrl: string, connectionId: string): LinksResponse {
  return {
    links: [
      {
        href: `${adminApiUrl}/deactivate/${connectionId}`,
        rel: 'self',
        method: 'POST',
        title: 'Deactivation received and queued for clean-up',
      },
      {
        href: `${adminApiUrl}/activate`,
        rel: 'activate',
        method: 'POST',
        title: 'Activate a new connection',
      },
    ],
  };
}

/** The minimal representation of links: each link's required `href` and `rel`, nothing else. */
export function minimalLinks(links: LinksResponse): LinksResponse {
  return { links: links.links.map(({ href, rel }) => ({ href, rel })) };
}
