// Failed attempts in a connection's history: repeats are counted into one entry, and the history
// stays bounded whatever a partner answers.
import { describe, expect, it } from 'vitest';
import {
  HISTORY_LIMIT,
  placeFailedAttempt,
  RUN_KINDS,
  type AttemptPlacement,
} from './attempt-history.ts';
import type { HistoryEntry } from './connection-states.ts';

const t0 = Date.parse('2026-11-25T10:00:00Z');
const at = (second: number) => new Date(t0 + second * 1000);
const attempt = (second: number, detail: string, event = 'callback_attempt_failed') => ({
  at: at(second),
  event,
  by: 'approval-worker',
  detail,
});
const start: HistoryEntry[] = [
  { at: at(0), event: 'activation_received', by: 'approval-worker' },
  { at: at(0), event: 'decided_approve', by: 'rules' },
];

/** The history after each attempt is placed, as the store writes it. */
function played(history: HistoryEntry[], attempts: HistoryEntry[]): HistoryEntry[] {
  const result = [...history];
  for (const next of attempts) {
    const placement: AttemptPlacement = placeFailedAttempt(result, next);
    if ('push' in placement) result.push(placement.push);
    else result[placement.index] = placement.entry;
  }
  return result;
}

describe('a failed attempt in the history', () => {
  it('the first is added as it is', () => {
    expect(placeFailedAttempt(start, attempt(1, 'HTTP 429'))).toEqual({
      push: attempt(1, 'HTTP 429'),
    });
  });

  it('repeats are counted into the first, with the first and the last time', () => {
    const history = played(
      start,
      Array.from({ length: 1000 }, (_, n) => attempt(n + 1, 'HTTP 429')),
    );
    expect(history).toEqual([
      ...start,
      { ...attempt(1, 'HTTP 429'), count: 1000, lastAt: at(1000) },
    ]);
  });

  it('two answers in turn give two entries, each counted', () => {
    const history = played(
      start,
      Array.from({ length: 10 }, (_, n) => attempt(n + 1, n % 2 === 0 ? 'HTTP 429' : 'HTTP 503')),
    );
    expect(history.slice(2)).toEqual([
      { ...attempt(1, 'HTTP 429'), count: 5, lastAt: at(9) },
      { ...attempt(2, 'HTTP 503'), count: 5, lastAt: at(10) },
    ]);
  });

  it('after an event that is not a failed attempt, a repeat starts a new entry: the story keeps its order', () => {
    const history = played(start, [attempt(1, 'HTTP 503')]);
    history.push({ at: at(2), event: 'operator_retry_callback', by: 'ops:alice' });
    expect(played(history, [attempt(3, 'HTTP 503')]).slice(2)).toEqual([
      attempt(1, 'HTTP 503'),
      { at: at(2), event: 'operator_retry_callback', by: 'ops:alice' },
      attempt(3, 'HTTP 503'),
    ]);
  });

  it('a partner answering a different status every time lists RUN_KINDS of them, then counts into the latest', () => {
    const history = played(
      start,
      Array.from({ length: 100 }, (_, n) => attempt(n + 1, `HTTP ${500 + n}`)),
    );
    expect(history).toHaveLength(start.length + RUN_KINDS);
    expect(history.at(-1)).toEqual({
      ...attempt(RUN_KINDS, `HTTP ${500 + 99}`),
      count: 100 - RUN_KINDS + 1,
      lastAt: at(100),
    });
  });

  it(`past ${HISTORY_LIMIT} entries only counts what partners answer: operators' own actions alone add`, () => {
    let history = [...start];
    for (let run = 0; run < 30; run += 1) {
      const event = ['callback_attempt_failed', 'cleanup_attempt_failed'][run % 2] ?? '';
      history = played(
        history,
        Array.from({ length: 20 }, (_, n) => attempt(run * 100 + n, `HTTP ${500 + n}`, event)),
      );
      history.push({ at: at(run * 100 + 50), event: 'operator_retry_steps', by: 'ops:alice' });
    }
    expect(history.length).toBeGreaterThan(HISTORY_LIMIT);
    expect(history.slice(HISTORY_LIMIT).every((e) => e.event === 'operator_retry_steps')).toBe(
      true,
    );
    // Every attempt is counted somewhere.
    const attempts = history
      .filter((e) => e.event.endsWith('_attempt_failed'))
      .reduce((sum, e) => sum + (e.count ?? 1), 0);
    expect(attempts).toBe(30 * 20);
  });
});
