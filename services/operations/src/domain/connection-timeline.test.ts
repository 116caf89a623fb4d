// The connection's timeline as operators read it, from a stored document: repeated failed attempts
// counted into one history entry read as one event that says how many, and between when.
import { describe, expect, it } from 'vitest';
import type { ConnectionDocument } from '@fortellis-admin/connection-store';
import { connectionTimeline } from './connection-timeline.ts';

const at = (second: number) => new Date(Date.parse('2026-11-25T10:00:00Z') + second * 1000);

const connection: ConnectionDocument = {
  _id: 'c-1',
  connectionId: 'c-1',
  state: 'approved',
  version: 5,
  history: [
    { at: at(0), event: 'decided_approve', by: 'rules' },
    {
      at: at(1),
      event: 'provisioning_attempt_failed',
      by: 'approval-worker',
      detail: 'HTTP 429',
      count: 3,
      lastAt: at(7),
    },
    {
      at: at(8),
      event: 'provisioning_attempt_failed',
      by: 'approval-worker',
      detail: 'HTTP 503',
    },
  ],
  createdAt: at(0),
  updatedAt: at(8),
};

describe('the timeline of repeated failed attempts', () => {
  it('shows the attempts counted into one entry as one event: how many, between when, the last answer', () => {
    const [, counted, single] = connectionTimeline(connection).events;
    expect(counted).toMatchObject({
      at: at(1).toISOString(),
      event: 'provisioning_attempt_failed',
      problem: true,
      attempts: 3,
      lastAt: at(7).toISOString(),
      detail: `3 attempts between ${at(1).toISOString()} and ${at(7).toISOString()}; the last: HTTP 429`,
    });
    expect(single).toMatchObject({ detail: 'HTTP 503' });
    expect(single).not.toHaveProperty('attempts');
  });
});
