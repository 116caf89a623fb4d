// In-memory fakes of the approval worker's ports, for its use cases' unit tests: a connection store
// that follows the real state machine, a scripted Fortellis callback and token endpoint.
import {
  AppError,
  ERROR_CODES,
  type ActivateRequest,
  type ConnectionAcceptedJob,
} from '@fortellis-admin/contracts';
import {
  callbackStatusFor,
  reopenedCallbackState,
  connectionKey,
  holdsLease,
  acquired,
  leaseIsLive,
  repeatedActivation,
  stateAfterCallback,
  stateAfterDecision,
  type ConnectionDocument,
} from '@fortellis-admin/connection-store';
import {
  createLogger,
  MemoryCallOutcomeLedger,
  MemoryReconcilerJobs,
  type HttpAttempt,
  type JobContext,
} from '@fortellis-admin/service-kit';
import type { ApprovalStore, ApprovalUseCaseDeps } from '../src/domain/approval-ports.ts';
import { defaultPolicy, type ApprovalPolicy } from '@fortellis-admin/approval-rules';
import { AesGcmCredentialSealer } from '../src/domain/credential-seal.ts';

export class FakeStore implements ApprovalStore {
  readonly docs = new Map<string, ConnectionDocument>();
  readonly released: string[] = [];
  /** Every provisioning given up and every callback ended, as the use cases wrote them. */
  readonly provisioningFailures: Array<Parameters<ApprovalStore['failProvisioning']>[2]> = [];
  readonly callbackEnds: Array<Parameters<ApprovalStore['completeCallback']>[3]> = [];
  announced = 0;
  /** How often the callback's lease was taken on its own (not with the insert). */
  leasesTakenAlone = 0;
  #leases = 0;
  readonly now: () => Date;
  constructor(now: () => Date) {
    this.now = now;
  }

  get = async (id: string) => structuredClone(this.docs.get(connectionKey(id)) ?? null);

  recordActivation: ApprovalStore['recordActivation'] = async (record, decided) => {
    const key = connectionKey(record.activation.connectionId);
    const existing = this.docs.get(key);
    if (existing !== undefined) {
      const meaning = repeatedActivation(existing);
      return {
        kind: meaning === 'existing' ? 'existing' : 'stale',
        connection: structuredClone(existing),
      };
    }
    const doc: ConnectionDocument = {
      _id: key,
      connectionId: record.activation.connectionId,
      subscriptionId: record.activation.subscriptionId,
      state: 'received',
      version: 1,
      activation: record.activation,
      requestId: record.requestId,
      history: [],
      createdAt: this.now(),
      updatedAt: this.now(),
    };
    let lease: { leaseId: string } | undefined;
    let leaseFor: 'callback' | 'provisioning' | undefined;
    if (decided !== undefined) {
      doc.state = stateAfterDecision(decided.decision.action);
      doc.decision = decided.decision;
      if (doc.state === 'approved' && decided.provisioningLeaseMs !== undefined) {
        lease = { leaseId: 'provisioning-lease-1' };
        leaseFor = 'provisioning';
        doc.provisioning = {
          attempts: 1,
          leaseId: lease.leaseId,
          leaseUntil: new Date(this.now().getTime() + decided.provisioningLeaseMs),
        };
      } else if (doc.state === 'approved' || doc.state === 'rejected') {
        leaseFor = 'callback';
        this.#leases += 1;
        lease = { leaseId: `lease-${this.#leases}` };
        doc.callback = {
          status: callbackStatusFor(doc.state),
          attempts: 1,
          leaseId: lease.leaseId,
          leaseUntil: new Date(this.now().getTime() + decided.callbackLeaseMs),
        };
      }
    }
    this.docs.set(key, doc);
    return {
      kind: 'created',
      connection: structuredClone(doc),
      ...(lease && leaseFor && { lease, leaseFor }),
    };
  };

  decide: ApprovalStore['decide'] = async (id, decision, from) => {
    const doc = this.docs.get(connectionKey(id));
    if (doc === undefined || !from.includes(doc.state)) return null;
    doc.state = stateAfterDecision(decision.action);
    doc.decision = decision;
    delete doc.callback;
    return structuredClone(doc);
  };

  acquireCallbackLease: ApprovalStore['acquireCallbackLease'] = async (id, state, leaseMs) => {
    this.leasesTakenAlone += 1;
    const doc = this.docs.get(connectionKey(id));
    if (doc === undefined || doc.state !== state || leaseIsLive(doc.callback, this.now()))
      return null;
    // Unique per store, as the real store's random ids are: a suspension's callback starts its
    // attempts again, and must not reuse the accepted callback's lease id.
    this.#leases += 1;
    const leaseId = `lease-${this.#leases}`;
    const previous = doc.callback;
    doc.callback = {
      status: callbackStatusFor(state),
      attempts: (doc.callback?.attempts ?? 0) + 1,
      leaseId,
      leaseUntil: new Date(this.now().getTime() + leaseMs),
    };
    return acquired(leaseId, previous);
  };

  releaseCallbackLease: ApprovalStore['releaseCallbackLease'] = async (id, leaseId, attempt) => {
    const doc = this.docs.get(connectionKey(id));
    if (doc?.callback === undefined || !holdsLease(doc.callback, leaseId)) return;
    this.released.push(attempt.error);
    delete doc.callback.leaseId;
    delete doc.callback.leaseUntil;
  };

  completeCallback: ApprovalStore['completeCallback'] = async (
    id,
    leaseId,
    from,
    result,
    options = {},
  ) => {
    const doc = this.docs.get(connectionKey(id));
    if (doc?.callback === undefined || doc.state !== from || !holdsLease(doc.callback, leaseId))
      return null;
    this.callbackEnds.push(result);
    doc.state = stateAfterCallback(from, result.outcome);
    if (doc.state === 'accepted') {
      doc.acceptedAt = this.now();
      delete doc.provisioning?.credentials;
    }
    doc.callback.outcome = result.outcome;
    doc.callback.completedAt = this.now();
    if (result.status !== undefined) doc.callback.lastStatus = result.status;
    if (options.announced === true) {
      doc.acceptanceAnnounced = true;
      this.announced += 1;
    }
    delete doc.callback.leaseId;
    delete doc.callback.leaseUntil;
    return structuredClone(doc);
  };

  findStalled: ApprovalStore['findStalled'] = async (_work, untouchedSince, limit) =>
    [...this.docs.values()]
      .filter(
        (doc) =>
          doc.updatedAt < untouchedSince &&
          (['received', 'approved', 'rejected', 'suspending'].includes(doc.state) ||
            (doc.state === 'accepted' && doc.acceptanceAnnounced !== true)),
      )
      .slice(0, limit)
      .map((doc) => structuredClone(doc));

  reopenCallback: ApprovalStore['reopenCallback'] = async (id) => {
    const doc = this.docs.get(connectionKey(id));
    const back = reopenedCallbackState(doc ?? null);
    if (doc?.callback === undefined || back === null) return null;
    doc.state = back;
    delete doc.callback.outcome;
    delete doc.callback.completedAt;
    return structuredClone(doc);
  };

  acquireProvisioningLease: ApprovalStore['acquireProvisioningLease'] = async (id, leaseMs) => {
    const doc = this.docs.get(connectionKey(id));
    if (
      doc === undefined ||
      doc.state !== 'approved' ||
      doc.provisioning?.status === 'done' ||
      leaseIsLive(doc.provisioning, this.now())
    )
      return null;
    const previous = doc.provisioning;
    const attempts = (previous?.attempts ?? 0) + 1;
    const leaseId = `provisioning-lease-${attempts}`;
    doc.provisioning = {
      ...previous,
      attempts,
      leaseId,
      leaseUntil: new Date(this.now().getTime() + leaseMs),
    };
    return acquired(leaseId, previous);
  };

  releaseProvisioningLease: ApprovalStore['releaseProvisioningLease'] = async (
    id,
    leaseId,
    attempt,
  ) => {
    const doc = this.docs.get(connectionKey(id));
    if (!holdsLease(doc?.provisioning, leaseId) || doc?.provisioning === undefined) return;
    this.released.push(attempt.error);
    doc.provisioning.lastError = attempt.error;
    delete doc.provisioning.leaseId;
    delete doc.provisioning.leaseUntil;
  };

  completeProvisioning: ApprovalStore['completeProvisioning'] = async (
    id,
    leaseId,
    result,
    callbackLeaseMs,
  ) => {
    const doc = this.docs.get(connectionKey(id));
    if (doc?.state !== 'approved' || doc.provisioning === undefined) return null;
    if (!holdsLease(doc.provisioning, leaseId)) return null;
    doc.provisioning.status = 'done';
    doc.provisioning.completedAt = this.now();
    if (result.accountId !== undefined) doc.provisioning.accountId = result.accountId;
    if (result.credentials !== undefined) {
      doc.provisioning.credentialNames = result.credentials.names;
      doc.provisioning.credentials = result.credentials.sealed;
    }
    delete doc.provisioning.leaseId;
    delete doc.provisioning.leaseUntil;
    const callbackLease = { leaseId: 'callback-after-provisioning' };
    doc.callback = {
      status: 'accepted',
      attempts: 1,
      leaseId: callbackLease.leaseId,
      leaseUntil: new Date(this.now().getTime() + callbackLeaseMs),
    };
    return { connection: structuredClone(doc), callbackLease };
  };

  failProvisioning: ApprovalStore['failProvisioning'] = async (id, leaseId, failure) => {
    const doc = this.docs.get(connectionKey(id));
    if (doc?.state !== 'approved' || !holdsLease(doc.provisioning, leaseId)) return null;
    if (doc.provisioning === undefined) return null;
    this.provisioningFailures.push(failure);
    doc.state = 'provisioning_failed';
    doc.provisioning.status = 'failed';
    if (failure.httpStatus !== undefined) doc.provisioning.lastStatus = failure.httpStatus;
    delete doc.provisioning.leaseId;
    delete doc.provisioning.leaseUntil;
    return structuredClone(doc);
  };

  reopenProvisioning: ApprovalStore['reopenProvisioning'] = async (id) => {
    const doc = this.docs.get(connectionKey(id));
    if (doc?.state !== 'provisioning_failed' || doc.provisioning === undefined) return null;
    doc.state = 'approved';
    delete doc.provisioning.status;
    return structuredClone(doc);
  };

  markAcceptanceAnnounced: ApprovalStore['markAcceptanceAnnounced'] = async (id) => {
    const doc = this.docs.get(connectionKey(id));
    if (doc !== undefined) doc.acceptanceAnnounced = true;
    this.announced += 1;
  };
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
