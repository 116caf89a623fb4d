// What the approval worker sends the provider's backend to provision a buyer's account, and what
// it accepts as the answer. Pure.
import {
  contracts,
  type BackendProvisionAnswer,
  type BackendProvisionRequest,
  type ContractIssue,
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

/**
 * The backend's 2xx answer, read: the account and credentials, or the problems that make it
 * unusable (pointer + message, never a value of the answer: it may hold credentials).
 */
export function readProvisionAnswer(
  body: string,
): { answer: BackendProvisionAnswer } | { problems: ContractIssue[] } {
  let parsed: unknown;
  try {
    parsed = body.trim() === '' ? {} : JSON.parse(body);
  } catch {
    return { problems: [{ pointer: '', message: 'is not JSON' }] };
  }
  const problems = contracts.backendProvisionAnswer.issues(parsed);
  if (problems.length > 0) return { problems };
  return { answer: parsed as BackendProvisionAnswer };
}
