// What the deprovision worker sends for a connection: the backend clean-up request and the
// integration-platform status report. Pure.
import {
  ACTIVATION_STATUS_EVENT,
  DEACTIVATION_STATUS_EVENT,
  type IntegrationStatusBody,
} from '@fortellis-admin/contracts';
import { type ConnectionDocument } from '@fortellis-admin/connection-store';

/**
 * The body of `POST BACKEND_DEPROVISION_URL`: the connection's ids and organization, and the
 * account the approval worker provisioned for it (null when nothing was provisioned here).
 */
export interface BackendDeprovisionRequest {
  connectionId: string;
  accountId: string | null;
  subscriptionId: string | null;
  organization: { id: string; name: string } | null;
  apiId: string | null;
  appId: string | null;
  deactivatedAt: string | null;
  requestId: string | null;
}

export function backendRequest(connection: ConnectionDocument): BackendDeprovisionRequest {
  const activation = connection.activation;
  return {
    connectionId: connection.connectionId,
    accountId: connection.provisioning?.accountId ?? null,
    subscriptionId: connection.subscriptionId ?? null,
    organization:
      activation === undefined
        ? null
        : { id: activation.organizationInfo.id, name: activation.organizationInfo.name },
    apiId: activation?.apiInfo.id ?? null,
    appId: activation?.appInfo.id ?? null,
    deactivatedAt: connection.deactivation?.recordedAt.toISOString() ?? null,
    requestId: connection.deactivation?.requestId ?? null,
  };
}

export interface StatusReportSettings {
  applicationCode: string;
  module: { name: string; version?: string | undefined };
  vendorSystem?: { name: string; version?: string | undefined } | undefined;
}

/** The status body reporting a deactivation (or an activation) of the integration. */
export function statusReport(
  kind: 'deactivation' | 'activation',
  settings: StatusReportSettings,
): IntegrationStatusBody {
  const nameVersion = (value: { name: string; version?: string | undefined }) => ({
    name: value.name,
    ...(value.version === undefined ? {} : { version: value.version }),
  });
  return {
    application_code: settings.applicationCode,
    module: nameVersion(settings.module),
    ...(settings.vendorSystem === undefined
      ? {}
      : { vendor_system: nameVersion(settings.vendorSystem) }),
    events: [
      { ...(kind === 'deactivation' ? DEACTIVATION_STATUS_EVENT : ACTIVATION_STATUS_EVENT) },
    ],
  };
}

/** A connection never activated here (a tombstone): nothing was provisioned, nothing to report. */
export function neverActivated(connection: ConnectionDocument): boolean {
  return connection.activation === undefined;
}
