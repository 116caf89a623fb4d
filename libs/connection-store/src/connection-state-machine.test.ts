// The connection's rules, without a database: where each event leads and what a repeat means.
import { describe, expect, it } from 'vitest';
import {
  allowedStarts,
  callbackEvent,
  callbackStatusFor,
  decisionEvent,
  deactivationChanges,
  failedSteps,
  historyEntry,
  outcomeDetail,
  repeatedActivation,
  reopenedCallbackState,
  stateAfterCallback,
  stateAfterDecision,
  reviewRequestOutcome,
  statesLeadingTo,
  wasAccepted,
} from './connection-state-machine.ts';
import { CONNECTION_STATES, type Decision } from './connection-states.ts';
import { tutorialCurlPayload } from '@fortellis-admin/test-support/doubles';

const decision = (action: Decision['action']): Decision => ({
  action,
  ruleId: 'r1',
  decidedBy: 'rules',
  decidedAt: new Date(0),
});

describe('the connection state machine', () => {
  it('lets every live state be deactivated, and nothing leave deactivated', () => {
    expect(statesLeadingTo('deactivated')).toEqual(
      CONNECTION_STATES.filter((state) => state !== 'deactivated'),
    );
    for (const to of CONNECTION_STATES) expect(statesLeadingTo(to)).not.toContain('deactivated');
  });

  it('keeps only the expected starts the machine allows: accepted cannot be approved again', () => {
    expect(allowedStarts(['received', 'accepted'], 'approved')).toEqual(['received']);
    expect(allowedStarts(['accepted'], 'approved')).toEqual([]);
  });

  it('sends each decision to its state and names it in the history', () => {
    expect(stateAfterDecision('approve')).toBe('approved');
    expect(stateAfterDecision('reject')).toBe('rejected');
    expect(stateAfterDecision('review')).toBe('pending_review');
    expect(decisionEvent('approve')).toBe('decided_approve');
    expect(decisionEvent('review')).toBe('held_for_review');
  });

  it('sends accepted for an approval and rejected for a rejection', () => {
    expect(callbackStatusFor('approved')).toBe('accepted');
    expect(callbackStatusFor('rejected')).toBe('rejected');
  });

  it('moves an acknowledged callback to accepted or rejection_sent, a failed one to callback_failed', () => {
    expect(stateAfterCallback('approved', 'acknowledged')).toBe('accepted');
    expect(stateAfterCallback('rejected', 'acknowledged')).toBe('rejection_sent');
    expect(stateAfterCallback('approved', 'failed')).toBe('callback_failed');
    expect(callbackEvent('approved', 'acknowledged')).toBe('callback_accepted_acknowledged');
    expect(callbackEvent('rejected', 'acknowledged')).toBe('callback_rejected_acknowledged');
    expect(callbackEvent('rejected', 'failed')).toBe('callback_failed');
  });

  it('reopens a failed callback to the decided state, and nothing else', () => {
    expect(reopenedCallbackState({ state: 'callback_failed', decision: decision('approve') })).toBe(
      'approved',
    );
    expect(reopenedCallbackState({ state: 'callback_failed', decision: decision('reject') })).toBe(
      'rejected',
    );
    expect(reopenedCallbackState({ state: 'accepted', decision: decision('approve') })).toBeNull();
    expect(
      reopenedCallbackState({ state: 'callback_failed', decision: decision('review') }),
    ).toBeNull();
    expect(reopenedCallbackState(null)).toBeNull();
  });

  it('lists the deprovision steps that failed, not those done or still to do', () => {
    expect(
      failedSteps({
        steps: {
          cleanup: { status: 'done', attempts: 1 },
          deactivationReport: { status: 'failed', attempts: 3 },
          activationReport: { attempts: 1 },
        },
      }),
    ).toEqual(['deactivationReport']);
    expect(failedSteps(null)).toEqual([]);
  });

  it('reads a repeated activation as the same one, and one after a deactivation as stale', () => {
    expect(repeatedActivation({ state: 'accepted', activation: tutorialCurlPayload })).toBe(
      'existing',
    );
    expect(repeatedActivation({ state: 'deactivated', activation: tutorialCurlPayload })).toBe(
      'stale',
    );
    expect(repeatedActivation({ state: 'deactivated' })).toBe('stale-first');
    expect(
      wasAccepted({ callback: { status: 'accepted', attempts: 1, outcome: 'acknowledged' } }),
    ).toBe(true);
    expect(
      wasAccepted({ callback: { status: 'rejected', attempts: 1, outcome: 'acknowledged' } }),
    ).toBe(false);
    expect(wasAccepted({ callback: { status: 'accepted', attempts: 3, outcome: 'failed' } })).toBe(
      false,
    );
    expect(wasAccepted({})).toBe(false);
    expect(deactivationChanges({ state: 'accepted' })).toBe(true);
    expect(deactivationChanges({ state: 'deactivated' })).toBe(false);
  });

  it('records the first review decision, takes the same one again as a repeat, and refuses any other', () => {
    const taken = { action: 'approve' as const, by: 'ops:alice', at: new Date(0) };
    expect(reviewRequestOutcome({ state: 'pending_review' }, { action: 'approve' })).toBe('record');
    expect(
      reviewRequestOutcome(
        { state: 'pending_review', reviewRequest: taken },
        { action: 'approve' },
      ),
    ).toBe('repeat');
    expect(
      reviewRequestOutcome(
        { state: 'pending_review', reviewRequest: taken },
        { action: 'reject', reason: 'no' },
      ),
    ).toBe('conflict');
    expect(
      reviewRequestOutcome({ state: 'accepted', reviewRequest: taken }, { action: 'approve' }),
    ).toBe('conflict');
    expect(reviewRequestOutcome({ state: 'received' }, { action: 'approve' })).toBe('conflict');
  });

  it('writes history details only when there is something to say', () => {
    expect(historyEntry({ at: new Date(0), event: 'e', by: 'b', detail: '' })).toEqual({
      at: new Date(0),
      event: 'e',
      by: 'b',
    });
    expect(outcomeDetail({ httpStatus: 503, error: 'down', note: 'gave up after 60 s' })).toBe(
      'HTTP 503: down: gave up after 60 s',
    );
    expect(outcomeDetail({})).toBe('');
  });
});
