// How a failed attempt of an outside call enters a connection's history, so that the history stays
// bounded whatever a partner answers: an attempt that repeats one already recorded in the trailing
// run of failed attempts (same event, author and detail) is counted into that entry (`count`, its
// first `at` and its `lastAt`) instead of added; once the run holds RUN_KINDS kinds of failure, or
// the history HISTORY_LIMIT entries, a new kind is counted into the latest entry of the same event
// (at the limit, of an earlier run too), whose detail becomes the latest answer. Only the first
// failure of a call is ever added past the limit. Pure.
import type { HistoryEntry } from './connection-states.ts';

/** The history a partner's answers can fill: beyond it, failed attempts are only counted. */
export const HISTORY_LIMIT = 50;

/** How many different failures one run of failed attempts lists before it only counts them. */
export const RUN_KINDS = 5;

/** The event name of every failed attempt: `callback_attempt_failed`, `cleanup_attempt_failed`… */
export const ATTEMPT_FAILED_SUFFIX = '_attempt_failed';

/** Where a failed attempt goes: a new entry, or an entry it is counted into (its new value). */
export type AttemptPlacement = { push: HistoryEntry } | { index: number; entry: HistoryEntry };

/** The index of the first entry of the trailing run of failed attempts (the length if none). */
function runStart(history: readonly HistoryEntry[]): number {
  let start = history.length;
  while (start > 0 && history[start - 1]?.event.endsWith(ATTEMPT_FAILED_SUFFIX) === true)
    start -= 1;
  return start;
}

/** `entry` with one more attempt, the latest at `attempt.at`, saying what `attempt` said. */
function counted(entry: HistoryEntry, attempt: HistoryEntry): HistoryEntry {
  const { detail: _earlier, ...rest } = entry;
  return {
    ...rest,
    ...(attempt.detail === undefined ? {} : { detail: attempt.detail }),
    count: (entry.count ?? 1) + 1,
    lastAt: attempt.at,
  };
}

/** Decides where the failed attempt `attempt` goes in `history`. */
export function placeFailedAttempt(
  history: readonly HistoryEntry[],
  attempt: HistoryEntry,
): AttemptPlacement {
  const start = runStart(history);
  let sameEvent: number | undefined;
  for (let index = history.length - 1; index >= start; index -= 1) {
    const entry = history[index];
    if (entry === undefined || entry.event !== attempt.event || entry.by !== attempt.by) continue;
    if (entry.detail === attempt.detail) return { index, entry: counted(entry, attempt) };
    sameEvent ??= index;
  }
  const atLimit = history.length >= HISTORY_LIMIT;
  // At the limit, an earlier run's entry of the same call takes the count too.
  if (atLimit && sameEvent === undefined)
    sameEvent = history.findLastIndex((e) => e.event === attempt.event && e.by === attempt.by);
  const full = atLimit || history.length - start >= RUN_KINDS;
  const into = sameEvent === undefined || sameEvent < 0 ? undefined : history[sameEvent];
  if (full && sameEvent !== undefined && into !== undefined)
    return { index: sameEvent, entry: counted(into, attempt) };
  return { push: attempt };
}
