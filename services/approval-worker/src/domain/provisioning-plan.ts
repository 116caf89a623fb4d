// What the approval worker sends the provider's backend to provision a buyer's account, and what
// it accepts as the answer. Pure.
import {
  contracts,
  type BackendProvisionAnswer,
  type BackendProvisionRequest,
} from '@fortellis-admin/contracts';
import type { ConnectionDocument } from '@fortellis-admin/connection-store';

/** The body of `POST BACKEND_PROVISION_URL` for a stored activation. */
export function provisionRequest(connection: ConnectionDocument): BackendProvisionRequest {
  const activation = connection.activation;
  if (activation === undefined)
    throw new Error(`connection ${connection.connectionId} has no activation to provision`);
  return {
    connectionId: connection.connectionId,
    subscriptionId: activation.subscriptionId,
    organization: { id: activation.organizationInfo.id, name: activation.organizationInfo.name },
    apiId: activation.apiInfo.id,
    appId: activation.appInfo.id,
    requestId: connection.requestId ?? connection.connectionId,
  };
}

/** The backend's 2xx answer, read: the account and credentials, or why it cannot be used. */
export function readProvisionAnswer(
  body: string,
): { answer: BackendProvisionAnswer } | { invalid: string } {
  let parsed: unknown;
  try {
    parsed = body.trim() === '' ? {} : JSON.parse(body);
  } catch {
    return { invalid: 'the answer is not JSON' };
  }
  const issues = contracts.backendProvisionAnswer.issues(parsed);
  if (issues.length > 0)
    return {
      invalid: issues.map((issue) => `${issue.pointer || '/'} ${issue.message}`).join('; '),
    };
  return { answer: parsed as BackendProvisionAnswer };
}
