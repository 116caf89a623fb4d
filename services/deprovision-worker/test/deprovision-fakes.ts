// In-memory fakes of the deprovision worker's ports, for its use cases' unit tests: the connection
// store of test support (which passes the real store's contract suite), a scripted backend and
// status API.
import {
  AppError,
  ERROR_CODES,
  type ActivateRequest,
  type ConnectionAcceptedJob,
  type DeactivationReceivedJob,
  type IntegrationStatusBody,
  type RetryRequestedJob,
  type StalledConnectionFoundJob,
} from '@fortellis-admin/contracts';
import { connectionKey, type DeprovisionStep } from '@fortellis-admin/connection-store';
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
  type LeasedCall,
} from '@fortellis-admin/test-support/doubles';
import type {
  AccountDeprovisioner,
  DeprovisionResult,
  DeprovisionStore,
  DeprovisionUseCaseDeps,
  StatusReporter,
} from '../src/domain/deprovision-ports.ts';
import {
  handleAccepted,
  handleDeactivation,
  handleReconciliation,
  handleRetry,
  handleStalledConnection,
} from '../src/domain/deprovision-use-cases.ts';
import type { BackendDeprovisionRequest } from '../src/domain/deprovision-plan.ts';

/**
 * The connection store of test support, seen as the deprovision worker's tests look at it: each
 * failed step attempt given back, and the steps whose lease was taken on its own.
 */
export class FakeStore extends MemoryConnectionStore implements DeprovisionStore {
  /** A connection that was activated and accepted. */
  accepted(activation: ActivateRequest): void {
    const key = connectionKey(activation.connectionId);
    this.docs.set(key, {
      _id: key,
      connectionId: activation.connectionId,
      subscriptionId: activation.subscriptionId,
      state: 'accepted',
      version: 1,
      activation,
      callback: { status: 'accepted', attempts: 1, outcome: 'acknowledged' },
      history: [],
      createdAt: this.now(),
      updatedAt: this.now(),
    });
  }

  get released(): Array<{ step: DeprovisionStep; error: string }> {
    return this.releases.flatMap(({ call, error }) =>
      isStep(call) ? [{ step: call, error }] : [],
    );
  }

  /** Each step whose lease was taken on its own (not with the write before it). */
  get leasesTakenAlone(): DeprovisionStep[] {
    return this.leasesTaken.filter(isStep);
  }
}

const isStep = (call: LeasedCall): call is DeprovisionStep =>
  call !== 'callback' && call !== 'provisioning';

/** Answers from a script, then with `fallback`; records every call. */
class Scripted {
  readonly #script: HttpAttempt[] = [];
  readonly fallback: HttpAttempt;
  constructor(fallback: HttpAttempt) {
    this.fallback = fallback;
  }
  answer(...attempts: HttpAttempt[]): void {
    this.#script.push(...attempts);
  }
  next(): HttpAttempt {
    return this.#script.shift() ?? this.fallback;
  }
}

export class FakeBackend implements AccountDeprovisioner {
  kind: 'http' | 'none' = 'http';
  readonly calls: BackendDeprovisionRequest[] = [];
  readonly answers = new Scripted({ answered: true, status: 200, body: '{}' });
  deprovision = async (request: BackendDeprovisionRequest) => {
    this.calls.push(request);
    return this.answers.next();
  };
}

export class FakeStatusApi implements StatusReporter {
  readonly reports: Array<{ body: IntegrationStatusBody; token: string }> = [];
  readonly answers = new Scripted({ answered: true, status: 204, body: '' });
  #issued = 1;
  tokenDown = false;
  tokenRefused = false;
  readonly tokens = {
    token: async () => {
      if (this.tokenRefused)
        throw new AppError(ERROR_CODES.upstreamFailed, 'token endpoint answered 401', {
          permanent: true,
        });
      if (this.tokenDown) throw new Error('idp token endpoint answered 500');
      return `idp-${this.#issued}`;
    },
    invalidate: () => {
      this.#issued += 1;
    },
  };
  report = async (body: IntegrationStatusBody, token: string) => {
    this.reports.push({ body, token });
    return this.answers.next();
  };
}

export const answered = (status: number, retryAfter?: string): HttpAttempt => ({
  answered: true,
  status,
  body: '',
  ...(retryAfter === undefined ? {} : { retryAfter }),
});

export function fixture(options: { status?: boolean; reportActivations?: boolean } = {}) {
  const now = new Date('2026-11-25T10:00:00Z');
  const clock = { now: () => now };
  const store = new FakeStore(clock.now);
  const backend = new FakeBackend();
  const statusApi = new FakeStatusApi();
  const reconcilerJobs = new MemoryReconcilerJobs();
  /** The work given up for good, as the metrics count it. */
  const givenUp: string[] = [];
  const deps: DeprovisionUseCaseDeps = {
    repo: store,
    recordGiveUp: (work) => void givenUp.push(work),
    deprovisioner: backend,
    status:
      options.status === false
        ? undefined
        : {
            client: statusApi,
            applicationCode: 'app-code',
            module: { name: 'fortellis-admin' },
            reportActivations: options.reportActivations ?? false,
          },
    logger: createLogger('deprovision-worker', 'silent'),
    clock,
    ledger: new MemoryCallOutcomeLedger(),
    settings: {
      retryHorizonMs: 60_000,
      stepLeaseMs: 6000,
      reconcile: { stalledAfterMs: 60_000, batchSize: 100 },
    },
    reconcilerJobs,
  };
  const job = (overrides: Partial<JobContext> = {}): JobContext => ({
    id: 'deactivation-x',
    name: 'DeactivationReceived',
    publishedAt: now,
    attempt: 1,
    ...overrides,
  });
  return {
    store,
    backend,
    statusApi,
    ledger: deps.ledger,
    reconcilerJobs,
    deps,
    job,
    now,
    givenUp,
  };
}

/** The use cases, each with the fixture's deps bound, as the unit tests call them. */
export interface DeprovisionUseCases {
  handleDeactivation(
    data: DeactivationReceivedJob,
    job: JobContext,
    log: Logger,
  ): Promise<DeprovisionResult>;
  handleAccepted(
    data: ConnectionAcceptedJob,
    job: JobContext,
    log: Logger,
  ): Promise<DeprovisionResult>;
  handleRetry(data: RetryRequestedJob, job: JobContext, log: Logger): Promise<DeprovisionResult>;
  handleStalledConnection(
    data: StalledConnectionFoundJob,
    job: JobContext,
    log: Logger,
  ): Promise<DeprovisionResult>;
  handleReconciliation(log: Logger): Promise<{ found: number; published: number }>;
}

export function createDeprovisionUseCases(deps: DeprovisionUseCaseDeps): DeprovisionUseCases {
  return {
    handleDeactivation: (data, job, log) => handleDeactivation(deps, data, job, log),
    handleAccepted: (data, job, log) => handleAccepted(deps, data, job, log),
    handleRetry: (data, job, log) => handleRetry(deps, data, job, log),
    handleStalledConnection: (data, job, log) => handleStalledConnection(deps, data, job, log),
    handleReconciliation: (log) => handleReconciliation(deps, log),
  };
}
