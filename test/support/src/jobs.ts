// Publishes jobs the way the ingress does, for tests that start at a worker.
import type { Queue } from 'bullmq';
import {
  JOB_NAMES,
  JOB_OPTIONS,
  jobIdFor,
  type ActivateRequest,
  type ActivationReceivedJob,
} from '@fortellis-admin/contracts';

/** Adds an ActivationReceived job for `activation` (job id by the contracts' rule unless given). */
export async function publishActivation(
  queue: Queue,
  activation: ActivateRequest,
  options: { requestId?: string; jobId?: string; sub?: string } = {},
): Promise<ActivationReceivedJob> {
  const data: ActivationReceivedJob = {
    activation,
    requestId: options.requestId ?? `req-${activation.connectionId.slice(0, 8)}`,
    receivedAt: new Date().toISOString(),
    token: { jti: 'AT.test', sub: options.sub ?? 'provider' },
  };
  await queue.add(JOB_NAMES.activationReceived, data, {
    ...JOB_OPTIONS,
    jobId: options.jobId ?? jobIdFor.activationReceived(data),
  });
  return data;
}
