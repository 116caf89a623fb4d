// What the approval worker's use cases need from the world, as narrow ports passed in one object:
// the connection store, the callback and token clients, the announcement of acceptances, a clock.
import type { ConnectionAcceptedJob, ConnectionCallbackBody } from '@fortellis-admin/contracts';
import type { ConnectionRepository } from '@fortellis-admin/connection-store';
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
import type { ApprovalPolicy } from './approval-rules.ts';

/** The connection store, as far as the approval worker writes it. */
export type ApprovalStore = Pick<
  ConnectionRepository,
  | 'get'
  | 'recordActivation'
  | 'decide'
  | 'acquireCallbackLease'
  | 'releaseCallbackLease'
  | 'completeCallback'
  | 'markAcceptanceAnnounced'
  | 'findStalled'
  | 'reopenCallback'
>;

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
    reconcile: ReconcilerSettings;
  };
  /** The approval queue, as the reconciler looks into it and publishes stalled connections. */
  reconcilerJobs: ReconcilerJobs;
  /** Counts each callback attempt by outcome, when metrics are collected. */
  recordCall?: OutsideCallRecorder;
  /** Counts each callback given up for good, when metrics are collected. */
  recordGiveUp?: GiveUpRecorder;
}

/** Where a job left its connection. */
export interface ProcessResult {
  connectionId: string;
  state: string;
}
