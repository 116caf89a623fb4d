// In-memory fakes of the deprovision worker's ports, for its use cases' unit tests: a connection
// store with the real lease rules, a scripted backend and status API.
import {
  AppError,
  ERROR_CODES,
  type ActivateRequest,
  type IntegrationStatusBody,
} from '@fortellis-admin/contracts';
import {
  connectionKey,
  failedSteps,
  holdsLease,
  acquired,
  leaseIsLive,
  type ConnectionDocument,
  type DeprovisionStep,
  type StepEnd,
} from '@fortellis-admin/connection-store';
import {
  createLogger,
  MemoryCallOutcomeLedger,
  MemoryReconcilerJobs,
  type HttpAttempt,
  type JobContext,
} from '@fortellis-admin/service-kit';
import type {
  AccountDeprovisioner,
  DeprovisionStore,
  DeprovisionUseCaseDeps,
  StatusReporter,
} from '../src/domain/deprovision-ports.ts';
import type { BackendDeprovisionRequest } from '../src/domain/deprovision-plan.ts';

export class FakeStore implements DeprovisionStore {
  readonly docs = new Map<string, ConnectionDocument>();
  readonly released: Array<{ step: DeprovisionStep; error: string }> = [];
  /** Every step's end, as the use cases wrote it. */
  readonly stepEnds: Array<{ step: DeprovisionStep } & StepEnd> = [];
  /** Each write that took a lease on its own (not with the write before it). */
  readonly leasesTakenAlone: DeprovisionStep[] = [];
  readonly now: () => Date;
  #leases = 0;
  constructor(now: () => Date) {
    this.now = now;
  }

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

  get = async (id: string) => structuredClone(this.docs.get(connectionKey(id)) ?? null);

  recordDeactivation: DeprovisionStore['recordDeactivation'] = async (
    id,
    deactivation,
    options = {},
  ) => {
    const key = connectionKey(id);
    const existing = this.docs.get(key);
    if (existing?.state === 'deactivated')
      return { connection: structuredClone(existing), changed: false };
    if (
      options.cleanupLeaseMs !== undefined &&
      existing?.state === 'accepted' &&
      existing.steps === undefined
    ) {
      existing.state = 'deactivated';
      existing.deactivation = { ...deactivation, recordedAt: this.now() };
      const lease = this.#lease('cleanup', existing, options.cleanupLeaseMs);
      return { connection: structuredClone(existing), changed: true, cleanupLease: lease };
    }
    const doc: ConnectionDocument = existing ?? {
      _id: key,
      connectionId: id,
      state: 'deactivated',
      version: 1,
      tombstone: true,
      history: [],
      createdAt: this.now(),
      updatedAt: this.now(),
    };
    doc.state = 'deactivated';
    doc.deactivation = { ...deactivation, recordedAt: this.now() };
    this.docs.set(key, doc);
    return { connection: structuredClone(doc), changed: true };
  };

  findStalled: DeprovisionStore['findStalled'] = async (_work, untouchedSince, limit) =>
    [...this.docs.values()]
      .filter(
        (doc) =>
          doc.updatedAt < untouchedSince &&
          doc.state === 'deactivated' &&
          (doc.steps?.cleanup?.status === undefined ||
            doc.steps.deactivationReport?.status === undefined),
      )
      .slice(0, limit)
      .map((doc) => structuredClone(doc));

  reopenFailedSteps: DeprovisionStore['reopenFailedSteps'] = async (id) => {
    const doc = this.docs.get(connectionKey(id));
    const failed = failedSteps(doc ?? null);
    for (const step of failed) {
      const record = doc?.steps?.[step];
      if (record === undefined) continue;
      delete record.status;
      delete record.completedAt;
    }
    return failed;
  };

  acquireStepLease: DeprovisionStore['acquireStepLease'] = async (id, step, leaseMs) => {
    this.leasesTakenAlone.push(step);
    const doc = this.docs.get(connectionKey(id));
    if (doc === undefined) return { kind: 'unknown' };
    const record = doc.steps?.[step];
    if (record?.status !== undefined) return { kind: 'finished', record };
    if (leaseIsLive(record, this.now())) return { kind: 'busy' };
    return {
      kind: 'acquired',
      connection: structuredClone(doc),
      ...acquired(this.#lease(step, doc, leaseMs).leaseId, record),
    };
  };

  #lease(step: DeprovisionStep, doc: ConnectionDocument, leaseMs: number): { leaseId: string } {
    this.#leases += 1;
    const leaseId = `lease-${this.#leases}`;
    doc.steps = {
      ...doc.steps,
      [step]: {
        attempts: (doc.steps?.[step]?.attempts ?? 0) + 1,
        leaseId,
        leaseUntil: new Date(this.now().getTime() + leaseMs),
      },
    };
    return { leaseId };
  }

  completeStepThenLease: DeprovisionStore['completeStepThenLease'] = async (
    id,
    step,
    leaseId,
    result,
    next,
  ) => {
    if (!(await this.completeStep(id, step, leaseId, result)))
      return { completed: false, nextLease: null };
    const doc = this.docs.get(connectionKey(id));
    if (doc === undefined || doc.steps?.[next.step] !== undefined)
      return { completed: true, nextLease: null };
    return { completed: true, nextLease: this.#lease(next.step, doc, next.leaseMs) };
  };

  releaseStepLease: DeprovisionStore['releaseStepLease'] = async (id, step, leaseId, attempt) => {
    const record = this.docs.get(connectionKey(id))?.steps?.[step];
    if (record === undefined || !holdsLease(record, leaseId)) return;
    this.released.push({ step, error: attempt.error });
    delete record.leaseId;
    delete record.leaseUntil;
  };

  completeStep: DeprovisionStore['completeStep'] = async (id, step, leaseId, result) => {
    const record = this.docs.get(connectionKey(id))?.steps?.[step];
    if (record === undefined || (leaseId !== null && !holdsLease(record, leaseId))) return false;
    this.stepEnds.push({ step, ...result });
    record.status = result.status;
    record.completedAt = this.now();
    if (result.note !== undefined) record.note = result.note;
    if (result.httpStatus !== undefined) record.lastStatus = result.httpStatus;
    delete record.leaseId;
    delete record.leaseUntil;
    return true;
  };
}

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
