// What the approval worker's use cases need from the world, as narrow ports passed in one object:
// the connection store, the backend's provisioning, the sealing of credentials, the callback and
// token clients, the announcement of acceptances, a clock.
import type {
  BackendProvisionRequest,
  ConnectionAcceptedJob,
  ConnectionCallbackBody,
} from '@fortellis-admin/contracts';
import type {
  ConnectionDocument,
  ConnectionRepository,
  SealedCredentials,
} from '@fortellis-admin/connection-store';
import type {
  CallOutcomeLedger,
  ClientCredentialsTokenClient,
  HttpAttempt,
  ReconcilerJobs,
  ReconcilerSettings,
  Logger,
  OutsideCallRecorder,
  GiveUpRecorder,
} from '@fortellis-admin/service-kit';
import type { ApprovalPolicy } from '@fortellis-admin/approval-rules';

/** The connection store, as far as the approval worker writes it. */
export type ApprovalStore = Pick<
  ConnectionRepository,
  | 'get'
  | 'recordActivation'
  | 'recordDecision'
  | 'acquireCallLease'
  | 'releaseCallLease'
  | 'completeCallback'
  | 'markAcceptanceAnnounced'
  | 'findStalled'
  | 'reopenCallback'
  | 'completeProvisioning'
  | 'failProvisioning'
  | 'reopenProvisioning'
>;

/** Creates the buyer's account in the provider's backend before the `accepted` callback. */
export interface AccountProvisioner {
  readonly kind: 'http' | 'none';
  /** One attempt, with the connection id as its idempotency key; never throws. */
  provision(request: BackendProvisionRequest): Promise<HttpAttempt>;
}

/**
 * Seals the buyer's credentials for the time they wait in the database for the callback, bound to
 * the connection they were provisioned for.
 */
export interface CredentialSealer {
  seal(credentials: Record<string, string>, connectionId: string): SealedCredentials;
  /** Throws when sealed under a key not configured, changed, or sealed for another connection. */
  open(sealed: SealedCredentials, connectionId: string): Record<string, string>;
}

/** Sends one connection callback to Fortellis and reports what happened, never throwing. */
export interface CallbackSender {
  send(
    connectionId: string,
    body: ConnectionCallbackBody,
    token: string,
    requestId: string,
  ): Promise<HttpAttempt>;
}

/** The callback's client-credentials token: cached, and dropped when Fortellis refuses it. */
export type CallbackTokens = Pick<ClientCredentialsTokenClient, 'token' | 'invalidate'>;

export interface ApprovalUseCaseDeps {
  repo: ApprovalStore;
  policy: ApprovalPolicy;
  provisioner: AccountProvisioner;
  /** Required with an `http` provisioner: a backend may answer credentials. */
  sealer: CredentialSealer | undefined;
  callbacks: CallbackSender;
  tokens: CallbackTokens;
  /** Publishes ConnectionAccepted for the deprovision worker. */
  announceAccepted(job: ConnectionAcceptedJob, jobId: string): Promise<void>;
  logger: Logger;
  clock: { now(): Date };
  /** How each callback ended, kept beside the jobs so a retry never sends one twice. */
  ledger: CallOutcomeLedger;
  settings: {
    retryHorizonMs: number;
    /** How long a callback attempt's lease lasts: its token requests and calls, with a margin. */
    callbackLeaseMs: number;
    /** How long a provisioning attempt's lease lasts: its call, with a margin. */
    provisioningLeaseMs: number;
    reconcile: ReconcilerSettings;
  };
  /** The approval queue, as the reconciler looks into it and publishes stalled connections. */
  reconcilerJobs: ReconcilerJobs;
  /** Counts each callback and provisioning attempt by outcome, when metrics are collected. */
  recordCall?: OutsideCallRecorder;
  /** Counts each callback or provisioning given up for good, when metrics are collected. */
  recordGiveUp?: GiveUpRecorder;
}

/** Where a job left its connection. */
export interface ProcessResult {
  connectionId: string;
  state: string;
}

/**
 * What one move of a connection gave: where it left the connection, or the connection found moved
 * on by another run (its lease could not be taken, or its write was refused), to move on again.
 */
export type AdvanceStep = ProcessResult | { movedOn: ConnectionDocument };
