// The judgement of a fault scenario, read from the simulator's records (since the scenario's stack
// was up: the simulator is shared by the file's scenarios) and the database: every call answered
// 200 happened exactly once, every call answered otherwise never happened, nothing is stuck.
import { setTimeout as delay } from 'node:timers/promises';
import type { ConnectionDocument, ConnectionState } from '@fortellis-admin/connection-store';
import type { RecordedCall } from '@fortellis-admin/simulator';
import type { FaultStack, WorkerName } from './fault-stack.ts';
import { until, type ScenarioRun } from './paced-run.ts';

export interface Verdict {
  calls: number;
  ok: number;
  refused: number;
  /** No answer at all (the caller's own timeout): neither a promise nor a refusal. */
  unanswered: string[];
  /** Answered 200, yet no callback (activation) or no cleanup or report (deactivation). */
  lost: string[];
  /** More than one callback, cleanup or report for one call, not explained by a call in doubt. */
  duplicated: string[];
  /**
   * A call repeated because the worker replica making it was SIGKILLed while it was on the wire:
   * the first copy reached the party at most IN_DOUBT_MS before the kill (or after the signal,
   * while the process was still going), so nobody lived to learn its answer; the repeat came after
   * that replica was gone, with the same content. No process can tell whether such a call arrived;
   * the README's Guarantees section says so.
   */
  repeatedInDoubt: string[];
  /** Answered non-200, yet with an effect. */
  phantom: string[];
  /** Left in a state that needs work nobody will do. */
  stuck: string[];
  /** How long the system took to settle after the last answer (ms). */
  settleMs: number;
}

const SETTLED: ConnectionState[] = [
  'accepted',
  'rejection_sent',
  'callback_failed',
  'pending_review',
];

/**
 * How long before a worker's SIGKILL a call it made may have arrived and still be in doubt: the
 * answer, then the ledger write that records it, take this long at most on a loaded machine.
 */
const IN_DOUBT_MS = 1000;

const key = (id: string) => id.toLowerCase();

/** Waits (up to `timeoutMs`) for the system to settle, then judges every call of the run. */
export async function judge(
  stack: FaultStack,
  run: ScenarioRun,
  timeoutMs = 90_000,
): Promise<Verdict> {
  const settling = Date.now();
  const calm = await until('the system settles', () => settled(stack, run), timeoutMs).then(
    () => true,
    () => false,
  );
  const settleMs = Date.now() - settling;
  // What was still moving, to read beside the verdict that follows.
  if (!calm) console.log(`not settled after ${timeoutMs} ms:`, await unsettled(stack, run));
  // Late effects land after the rest settled: a refused call's stalled write applied after its
  // answer, a repeat by an attempt that outlived its lease. Give them time to show.
  await delay(2000);
  const documents = new Map(
    (await stack.connections.find({}).toArray()).map((doc) => [doc._id, doc] as const),
  );
  const activated = run.activations.filter((r) => r.status === 200).length;
  const deactivated = run.deactivations.filter((r) => r.status === 200).length;
  const verdict: Verdict = {
    calls: run.activations.length + run.deactivations.length,
    ok: activated + deactivated,
    refused: 0,
    unanswered: [...run.activations, ...run.deactivations]
      .filter((r) => r.status === 0)
      .map(
        (r) => `${r.kind} ${r.connectionId} (${r.error ?? 'no answer'} after ${r.latencyMs} ms)`,
      ),
    lost: [],
    duplicated: [],
    repeatedInDoubt: [],
    phantom: [],
    stuck: [],
    settleMs,
  };
  verdict.refused = verdict.calls - verdict.ok - verdict.unanswered.length;
  const records = new Records(stack);
  judgeActivations(run, records, documents, verdict);
  judgeDeactivations(run, records, documents, verdict);
  for (const doc of documents.values()) {
    const needsWork =
      ['received', 'approved', 'rejected', 'suspending'].includes(doc.state) ||
      (doc.state === 'deactivated' &&
        (doc.steps?.cleanup?.status === undefined ||
          doc.steps.deactivationReport?.status === undefined));
    if (needsWork) verdict.stuck.push(`${doc.connectionId} (${doc.state})`);
  }
  return verdict;
}

/** Every call answered 200 has its effects; activations still active are settled, and so on. */
async function settled(stack: FaultStack, run: ScenarioRun): Promise<boolean> {
  const activated = run.activations.filter((r) => r.status === 200).map((r) => r.connectionId);
  const deactivated = run.deactivations.filter((r) => r.status === 200).map((r) => r.connectionId);
  const [a, d] = await Promise.all([
    stack.connections.countDocuments({
      _id: { $in: activated.filter((id) => !deactivated.includes(id)).map(key) },
      state: { $in: SETTLED },
    }),
    stack.connections.countDocuments({
      _id: { $in: deactivated.map(key) },
      state: 'deactivated',
      'steps.cleanup.status': { $exists: true },
      'steps.deactivationReport.status': { $exists: true },
    }),
  ]);
  return a === activated.length && d === deactivated.length;
}

/** How many of the run's connections stand in each state, and how many deactivations lack a step. */
async function unsettled(stack: FaultStack, run: ScenarioRun): Promise<Record<string, number>> {
  const ids = [...run.activations, ...run.deactivations].map((r) => key(r.connectionId));
  const counts: Record<string, number> = {};
  for (const doc of await stack.connections.find({ _id: { $in: ids } }).toArray()) {
    const steps =
      doc.state === 'deactivated'
        ? `/${doc.steps?.cleanup?.status ?? '-'}/${doc.steps?.deactivationReport?.status ?? '-'}`
        : '';
    counts[doc.state + steps] = (counts[doc.state + steps] ?? 0) + 1;
  }
  return counts;
}

/** What the outside parties saw during the scenario, and the kills that may explain a repeat. */
class Records {
  readonly callbacks: Map<string, RecordedCall[]>;
  readonly cleanups: Map<string, RecordedCall[]>;
  readonly reports: RecordedCall[];
  readonly accounts: Map<string, { credentials: Record<string, string> }[]>;
  readonly #stack: FaultStack;

  constructor(stack: FaultStack) {
    this.#stack = stack;
    const { sim } = stack.infra;
    const ours = (endpoint: 'callback' | 'deprovision' | 'status', status: number) =>
      sim.calls(endpoint).filter((c) => c.status === status && c.at.getTime() >= stack.startedAt);
    this.callbacks = groupBy(ours('callback', 200), (c) => key(c.params.connectionId ?? ''));
    this.cleanups = groupBy(ours('deprovision', 200), (c) =>
      key((c.body as { connectionId?: string } | undefined)?.connectionId ?? ''),
    );
    this.reports = ours('status', 204);
    this.accounts = groupBy(sim.backendAccounts(), (account) => key(account.connectionId));
  }

  /**
   * A kill of a replica of `worker` at which `call` was on the wire: it reached the party at most
   * IN_DOUBT_MS before the kill, or after the signal while the process was still going.
   */
  killWhileOnTheWire(worker: WorkerName, call: RecordedCall) {
    return this.#stack.kills.filter(
      (kill) =>
        kill.service === worker &&
        call.at.getTime() <= kill.exitedAt &&
        kill.at <= call.at.getTime() + IN_DOUBT_MS,
    );
  }

  /**
   * Two copies of one call, in doubt: the same content, the first on the wire at a kill of a
   * replica of `worker`, the second sent after that replica was gone. With two replicas the
   * records cannot say which one sent the first copy; the repeat's timing is what a repeat by the
   * live replica racing the killed one could not have.
   */
  repeatInDoubt(worker: WorkerName, copies: RecordedCall[]): boolean {
    const [first, second] = copies;
    if (copies.length !== 2 || first === undefined || second === undefined) return false;
    if (JSON.stringify(first.body) !== JSON.stringify(second.body)) return false;
    return this.killWhileOnTheWire(worker, first).some(
      (kill) => second.at.getTime() > kill.exitedAt,
    );
  }

  /**
   * When each copy came (ms after the stack was up), and where the first stood against the
   * nearest kill of its worker: what a reader needs to tell a repeat's cause.
   */
  sinceKill(worker: WorkerName, copies: readonly RecordedCall[]): string {
    const at = copies.map((c) => `+${c.at.getTime() - this.#stack.startedAt}`).join(', ');
    const call = copies[0];
    const kills = this.#stack.kills.filter((kill) => kill.service === worker);
    if (call === undefined || kills.length === 0) return `; at ${at} ms`;
    const nearest = kills.reduce((a, b) =>
      Math.abs(b.at - call.at.getTime()) < Math.abs(a.at - call.at.getTime()) ? b : a,
    );
    return `; at ${at} ms; first copy ${call.at.getTime() - nearest.at} ms from the nearest kill (replica ${nearest.replica}), which took ${nearest.exitedAt - nearest.at} ms`;
  }
}

function judgeActivations(
  run: ScenarioRun,
  records: Records,
  documents: Map<string, ConnectionDocument>,
  verdict: Verdict,
): void {
  for (const call of run.activations) {
    const id = call.connectionId;
    const copies = records.callbacks.get(key(id)) ?? [];
    const sent = copies.length;
    if (call.status === 0) continue;
    if (call.status !== 200) {
      if (documents.has(key(id)) || sent > 0) verdict.phantom.push(`activate ${id}`);
      continue;
    }
    if (sent === 0) verdict.lost.push(`activate ${id}`);
    // An accepted buyer must get the credentials of the one account the backend holds for it.
    const owned = records.accounts.get(key(id)) ?? [];
    if (owned.length > 1) verdict.duplicated.push(`activate ${id} (${owned.length} accounts)`);
    const auth = (copies[0]?.body as { auth?: unknown } | undefined)?.auth;
    if (
      sent > 0 &&
      (owned.length !== 1 || JSON.stringify(auth) !== JSON.stringify(owned[0]?.credentials))
    )
      verdict.lost.push(`activate ${id} (its callback's auth is not its account's credentials)`);
    if (sent > 1)
      (records.repeatInDoubt('approval-worker', copies)
        ? verdict.repeatedInDoubt
        : verdict.duplicated
      ).push(
        `activate ${id} (${sent} callbacks${records.sinceKill('approval-worker', copies)}${story(documents.get(key(id)))})`,
      );
  }
}

function judgeDeactivations(
  run: ScenarioRun,
  records: Records,
  documents: Map<string, ConnectionDocument>,
  verdict: Verdict,
): void {
  let reportsExpected = 0;
  for (const call of run.deactivations) {
    const id = call.connectionId;
    const doc = documents.get(key(id));
    const copies = records.cleanups.get(key(id)) ?? [];
    if (call.status === 0) continue;
    if (call.status !== 200) {
      if (doc?.state === 'deactivated' || copies.length > 0)
        verdict.phantom.push(`deactivate ${id}`);
      continue;
    }
    reportsExpected += 1;
    if (copies.length === 0 || doc?.steps?.deactivationReport?.status !== 'done')
      verdict.lost.push(`deactivate ${id}`);
    if (copies.length > 1)
      (records.repeatInDoubt('deprovision-worker', copies)
        ? verdict.repeatedInDoubt
        : verdict.duplicated
      ).push(
        `deactivate ${id} (${copies.length} cleanups${records.sinceKill('deprovision-worker', copies)}${story(documents.get(key(id)))})`,
      );
  }
  // Reports name no connection: only their number can be judged, and the ones in doubt counted.
  const extra = records.reports.length - reportsExpected;
  const inDoubt = records.reports.filter(
    (c) => records.killWhileOnTheWire('deprovision-worker', c).length > 0,
  );
  if (extra > 0)
    (extra <= inDoubt.length ? verdict.repeatedInDoubt : verdict.duplicated).push(
      `${extra} status reports too many (${inDoubt.length} in doubt)`,
    );
}

/** A connection's history as events with their times, to read beside a repeat. */
function story(doc: ConnectionDocument | undefined): string {
  if (doc === undefined) return '';
  const start = doc.history[0]?.at.getTime() ?? 0;
  const events = doc.history.map((entry) => `${entry.event}@+${entry.at.getTime() - start}`);
  return `; history ${events.join(' ')}`;
}

function groupBy<T>(items: readonly T[], keyOf: (item: T) => string): Map<string, T[]> {
  const groups = new Map<string, T[]>();
  for (const item of items) groups.set(keyOf(item), [...(groups.get(keyOf(item)) ?? []), item]);
  return groups;
}
