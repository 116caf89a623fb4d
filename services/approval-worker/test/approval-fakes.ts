// In-memory fakes of the approval worker's ports, for its use cases' unit tests: the connection
// store of test support (which passes the real store's contract suite), a scripted Fortellis
// callback and token endpoint.
import {
  AppError,
  ERROR_CODES,
  type ActivateRequest,
  type ActivationReceivedJob,
  type ConnectionAcceptedJob,
  type RetryRequestedJob,
  type ReviewDecidedJob,
  type StalledConnectionFoundJob,
  type SuspensionRequestedJob,
} from '@fortellis-admin/contracts';
import {
  createLogger,
  type HttpAttempt,
  type JobContext,
  type Logger,
} from '@fortellis-admin/service-kit';
import {
  MemoryCallOutcomeLedger,
  MemoryConnectionStore,
  MemoryReconcilerJobs,
} from '@fortellis-admin/test-support/doubles';
import type {
  ApprovalStore,
  ApprovalUseCaseDeps,
  ProcessResult,
} from '../src/domain/approval-ports.ts';
import {
  handleActivation,
  handleReconciliation,
  handleRetryRequested,
  handleReviewDecision,
  handleStalledConnection,
  handleSuspension,
} from '../src/domain/approval-use-cases.ts';
import { defaultPolicy, type ApprovalPolicy } from '@fortellis-admin/approval-rules';
import { AesGcmCredentialSealer } from '../src/domain/credential-seal.ts';

/**
 * The connection store of test support, seen as the approval worker's tests look at it: the error
 * of each failed attempt given back, and how often the callback's lease was taken on its own.
 */
export class FakeStore extends MemoryConnectionStore implements ApprovalStore {
  get released(): string[] {
    return this.releases.map((release) => release.error);
  }

  /** How often the callback's lease was taken on its own (not with the insert). */
  get leasesTakenAlone(): number {
    return this.leasesTaken.filter((call) => call === 'callback').length;
  }
}

/** The provider backend's provisioning, answering from a script (then 200 with an account). */
export class ScriptedProvisioner {
  kind: 'http' | 'none' = 'http';
  readonly calls: string[] = [];
  readonly #script: HttpAttempt[] = [];
  answer(...attempts: HttpAttempt[]): this {
    this.#script.push(...attempts);
    return this;
  }
  provision: ApprovalUseCaseDeps['provisioner']['provision'] = async (request) => {
    this.calls.push(request.connectionId);
    return (
      this.#script.shift() ?? {
        answered: true,
        status: 201,
        body: JSON.stringify({
          accountId: `acct-${request.connectionId}`,
          credentials: { apiKey: `key-${request.connectionId}` },
        }),
      }
    );
  };
}

/** Fortellis's callback endpoint, answering from a script (then 200), recording what it got. */
export class ScriptedCallbacks {
  readonly sent: Array<{
    connectionId: string;
    status: string;
    error?: string;
    auth?: Record<string, string>;
    token: string;
  }> = [];
  readonly #script: HttpAttempt[] = [];
  answer(...attempts: HttpAttempt[]): this {
    this.#script.push(...attempts);
    return this;
  }
  send: ApprovalUseCaseDeps['callbacks']['send'] = async (connectionId, body, token) => {
    this.sent.push({ connectionId, token, ...body });
    return this.#script.shift() ?? { answered: true, status: 200, body: 'OK' };
  };
}

/** The callback's token endpoint: a new token after each refusal, or down. */
export class FakeTokens {
  issued = 0;
  down = false;
  refused = false;
  token = async (): Promise<string> => {
    if (this.refused)
      throw new AppError(ERROR_CODES.upstreamFailed, 'token endpoint answered 401', {
        permanent: true,
      });
    if (this.down) throw new Error('token endpoint answered 503');
    return `token-${this.issued || (this.issued = 1)}`;
  };
  invalidate = (): void => {
    this.issued += 1;
  };
}

export const answered = (status: number, retryAfter?: string): HttpAttempt => ({
  answered: true,
  status,
  body: status === 200 ? 'OK' : `{"code":${status}}`,
  ...(retryAfter === undefined ? {} : { retryAfter }),
});

export function fixture(policy: ApprovalPolicy = defaultPolicy('approve')) {
  const now = new Date('2026-11-25T10:00:00Z');
  const clock = { now: () => now };
  const store = new FakeStore(clock.now);
  const callbacks = new ScriptedCallbacks();
  const provisioner = new ScriptedProvisioner();
  provisioner.kind = 'none';
  const tokens = new FakeTokens();
  const announcements: ConnectionAcceptedJob[] = [];
  /** Set to make the next announcements fail, as a Redis outage would. */
  const announcing = { down: false };
  /** The work given up for good, as the metrics count it. */
  const givenUp: string[] = [];
  const ledger = new MemoryCallOutcomeLedger();
  const reconcilerJobs = new MemoryReconcilerJobs();
  const deps: ApprovalUseCaseDeps = {
    repo: store,
    recordGiveUp: (work) => void givenUp.push(work),
    policy,
    provisioner,
    sealer: new AesGcmCredentialSealer([Buffer.alloc(32, 7)]),
    callbacks,
    tokens,
    announceAccepted: async (job) => {
      if (announcing.down) throw new Error('redis: connection lost');
      announcements.push(job);
    },
    logger: createLogger('approval-worker', 'silent'),
    clock,
    ledger,
    settings: {
      retryHorizonMs: 60_000,
      callbackLeaseMs: 6000,
      provisioningLeaseMs: 6000,
      reconcile: { stalledAfterMs: 60_000, batchSize: 100 },
    },
    reconcilerJobs,
  };
  const job = (overrides: Partial<JobContext> = {}): JobContext => ({
    id: 'activation-x',
    name: 'ActivationReceived',
    publishedAt: now,
    attempt: 1,
    ...overrides,
  });
  return {
    store,
    provisioner,
    callbacks,
    tokens,
    announcements,
    announcing,
    givenUp,
    ledger,
    reconcilerJobs,
    deps,
    job,
    now,
  };
}

export function activationJob(activation: ActivateRequest) {
  return {
    activation,
    requestId: 'req-1',
    receivedAt: '2026-11-25T09:59:59.000Z',
    token: { jti: 'j', sub: 's' },
  };
}

/** The use cases, each with the fixture's deps bound, as the unit tests call them. */
export interface ApprovalUseCases {
  handleActivation(
    data: ActivationReceivedJob,
    job: JobContext,
    log: Logger,
  ): Promise<ProcessResult>;
  handleReviewDecision(
    data: ReviewDecidedJob,
    job: JobContext,
    log: Logger,
  ): Promise<ProcessResult>;
  handleSuspension(
    data: SuspensionRequestedJob,
    job: JobContext,
    log: Logger,
  ): Promise<ProcessResult>;
  handleRetryRequested(
    data: RetryRequestedJob,
    job: JobContext,
    log: Logger,
  ): Promise<ProcessResult>;
  handleStalledConnection(
    data: StalledConnectionFoundJob,
    job: JobContext,
    log: Logger,
  ): Promise<ProcessResult>;
  handleReconciliation(log: Logger): Promise<{ found: number; published: number }>;
}

export function createApprovalUseCases(deps: ApprovalUseCaseDeps): ApprovalUseCases {
  return {
    handleActivation: (data, job, log) => handleActivation(deps, data, job, log),
    handleReviewDecision: (data, job, log) => handleReviewDecision(deps, data, job, log),
    handleSuspension: (data, job, log) => handleSuspension(deps, data, job, log),
    handleRetryRequested: (data, job, log) => handleRetryRequested(deps, data, job, log),
    handleStalledConnection: (data, job, log) => handleStalledConnection(deps, data, job, log),
    handleReconciliation: (log) => handleReconciliation(deps, log),
  };
}
