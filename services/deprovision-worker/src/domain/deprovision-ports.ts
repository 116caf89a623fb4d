// What the deprovision worker's use cases need from the world, as narrow ports passed in one
// object: the connection store, the backend's account clean-up, the status API, a clock.
import type { ConnectionRepository, DeprovisionStep } from '@fortellis-admin/connection-store';
import type {
  ClientCredentialsTokenClient,
  HttpAttempt,
  Logger,
  OutsideCallRecorder,
  GiveUpRecorder,
  CallOutcomeLedger,
  ReconcilerJobs,
  ReconcilerSettings,
} from '@fortellis-admin/service-kit';
import type { IntegrationStatusBody } from '@fortellis-admin/contracts';
import type { BackendDeprovisionRequest, StatusReportSettings } from './deprovision-plan.ts';

/** The connection store, as far as the deprovision worker writes it. */
export type DeprovisionStore = Pick<
  ConnectionRepository,
  | 'get'
  | 'recordDeactivation'
  | 'acquireCallLease'
  | 'releaseCallLease'
  | 'completeStep'
  | 'completeStepThenLease'
  | 'findStalled'
  | 'reopenFailedSteps'
>;

/** Cleans up the provider's backend accounts of a connection. */
export interface AccountDeprovisioner {
  readonly kind: 'http' | 'none';
  /** One attempt; `undefined` means there is nothing to call (the `none` adapter). */
  deprovision(request: BackendDeprovisionRequest): Promise<HttpAttempt | undefined>;
}

/** Reports to the integration platform's status API, with its own client-credentials token. */
export interface StatusReporter {
  report(body: IntegrationStatusBody, token: string): Promise<HttpAttempt>;
  tokens: Pick<ClientCredentialsTokenClient, 'token' | 'invalidate'>;
}

export interface StatusReporting extends StatusReportSettings {
  client: StatusReporter;
  reportActivations: boolean;
}

export interface DeprovisionUseCaseDeps {
  repo: DeprovisionStore;
  deprovisioner: AccountDeprovisioner;
  /** Absent when the integration status API is not configured. */
  status: StatusReporting | undefined;
  logger: Logger;
  clock: { now(): Date };
  /** How each outside call ended, kept beside the jobs so a retry never calls twice. */
  ledger: CallOutcomeLedger;
  settings: {
    retryHorizonMs: number;
    /** How long a step attempt's lease lasts: its token requests and calls, with a margin. */
    stepLeaseMs: number;
    reconcile: ReconcilerSettings;
  };
  /** The deprovision queue, as the reconciler looks into it and publishes stalled connections. */
  reconcilerJobs: ReconcilerJobs;
  /** Counts each backend and status-report attempt by outcome, when metrics are collected. */
  recordCall?: OutsideCallRecorder;
  /** Counts each step given up for good (ended failed), when metrics are collected. */
  recordGiveUp?: GiveUpRecorder;
}

export type StepOutcome = 'done' | 'failed' | 'skipped';

/** What a job did to each step it ran. */
export interface DeprovisionResult {
  connectionId: string;
  steps: Partial<Record<DeprovisionStep, StepOutcome>>;
}
