// The approval worker's use cases with in-memory fakes of their ports: no Redis, no MongoDB, no
// HTTP. The same stories the component tests tell, fast and one decision at a time.
import { describe, expect, it } from 'vitest';
import { AppError, type ActivateRequest } from '@fortellis-admin/contracts';
import { RetryLaterError } from '@fortellis-admin/service-kit';
import { tutorialCurlPayload } from '@fortellis-admin/test-support';
import { activationJob, answered, fixture } from '../../test/approval-fakes.ts';
import { createApprovalUseCases } from './approval-use-cases.ts';
import { defaultPolicy } from './approval-rules.ts';

const activation: ActivateRequest = structuredClone(tutorialCurlPayload);
const id = activation.connectionId;

function setUp(action: 'approve' | 'reject' | 'review' = 'approve') {
  const f = fixture(defaultPolicy(action));
  const useCases = createApprovalUseCases(f.deps);
  const activate = (attempt = 1) =>
    useCases.handleActivation(activationJob(activation), f.job({ attempt }), f.deps.logger);
  return { ...f, useCases, activate };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe('an activation', () => {
  it('when the rules approve, it sends accepted once, ends accepted and announces it once', async () => {
    const { activate, callbacks, announcements, store } = setUp('approve');
    expect(await activate()).toEqual({ connectionId: id, state: 'accepted' });
    expect(callbacks.sent).toMatchObject([{ connectionId: id, status: 'accepted' }]);
    expect(announcements).toMatchObject([
      { connectionId: id, subscriptionId: activation.subscriptionId },
    ]);
    expect(store.announced).toBe(1);
  });

  it('when the rules reject, it sends rejected with the reason and ends rejection_sent', async () => {
    const { activate, callbacks, announcements } = setUp('reject');
    expect((await activate()).state).toBe('rejection_sent');
    expect(callbacks.sent).toMatchObject([
      { status: 'rejected', error: 'The provider did not approve this subscription.' },
    ]);
    expect(announcements).toEqual([]);
  });

  it('when the rules hold it for review, it sends nothing and waits', async () => {
    const { activate, callbacks } = setUp('review');
    expect((await activate()).state).toBe('pending_review');
    expect(callbacks.sent).toEqual([]);
  });

  it('when the job is delivered again after the callback, it neither decides nor calls back again', async () => {
    const { activate, callbacks, announcements } = setUp('approve');
    await activate();
    expect((await activate(2)).state).toBe('accepted');
    expect(callbacks.sent).toHaveLength(1);
    expect(announcements).toHaveLength(1);
  });

  it('when the connection was deactivated first, it records nothing and calls nobody', async () => {
    const { activate, callbacks, store } = setUp('approve');
    store.docs.set(id.toLowerCase(), {
      _id: id.toLowerCase(),
      connectionId: id,
      state: 'deactivated',
      version: 1,
      tombstone: true,
      history: [],
      createdAt: new Date(0),
      updatedAt: new Date(0),
    });
    expect((await activate()).state).toBe('deactivated');
    expect(callbacks.sent).toEqual([]);
  });
});

describe('the callback', () => {
  it('when Fortellis answers 503, it gives the lease back and retries later with its Retry-After', async () => {
    const { activate, callbacks, store } = setUp();
    callbacks.answer(answered(503, '7'));
    const error = await rejection(activate());
    expect(error).toBeInstanceOf(RetryLaterError);
    expect((error as RetryLaterError).retryAfterMs).toBe(7000);
    expect(store.released).toEqual(['HTTP 503']);
    expect((await store.get(id))?.state).toBe('approved');
    expect(await activate(2)).toEqual({ connectionId: id, state: 'accepted' });
    expect(callbacks.sent).toHaveLength(2);
  });

  it('when it times out, it retries later', async () => {
    const { activate, callbacks } = setUp();
    callbacks.answer({ answered: false, error: 'HeadersTimeoutError: timed out' });
    expect(await rejection(activate())).toBeInstanceOf(RetryLaterError);
  });

  it('when it still fails past the retry horizon, it records callback_failed and ends the job for good', async () => {
    const { useCases, callbacks, store, deps, job, now } = setUp();
    callbacks.answer(answered(502));
    const error = await rejection(
      useCases.handleActivation(
        activationJob(activation),
        job({ publishedAt: new Date(now.getTime() - deps.settings.retryHorizonMs) }),
        deps.logger,
      ),
    );
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).permanent).toBe(true);
    expect((error as AppError).message).toContain('giving up');
    expect((await store.get(id))?.state).toBe('callback_failed');
  });

  it('when Fortellis refuses the token once, it fetches a new one and succeeds', async () => {
    const { activate, callbacks } = setUp();
    callbacks.answer(answered(401));
    expect((await activate()).state).toBe('accepted');
    expect(callbacks.sent.map((call) => call.token)).toEqual(['token-1', 'token-2']);
  });

  it('when Fortellis refuses with 403 even with a new token, the callback fails for good', async () => {
    const { activate, callbacks, store } = setUp();
    callbacks.answer(answered(403), answered(403));
    const error = await rejection(activate());
    expect((error as AppError).permanent).toBe(true);
    expect((error as AppError).message).toBe('callback refused with HTTP 403');
    expect((await store.get(id))?.state).toBe('callback_failed');
  });

  it('when Fortellis answers 404, the callback fails for good at once', async () => {
    const { activate, callbacks, store } = setUp();
    callbacks.answer(answered(404));
    expect(((await rejection(activate())) as AppError).permanent).toBe(true);
    expect(callbacks.sent).toHaveLength(1);
    expect((await store.get(id))?.callback?.lastStatus).toBe(404);
  });

  it('when the token endpoint is down, it gives the lease back and the error goes to the queue', async () => {
    const { activate, tokens, store, callbacks } = setUp();
    tokens.down = true;
    const error = await rejection(activate());
    expect((error as Error).message).toBe('token endpoint answered 503');
    expect(store.released).toEqual(['token: token endpoint answered 503']);
    expect(callbacks.sent).toEqual([]);
    expect((await store.get(id))?.callback?.leaseId).toBeUndefined();
  });

  it('when the token endpoint is still down past the retry horizon, it records callback_failed for operators to retry', async () => {
    const { useCases, tokens, store, deps, job, now } = setUp();
    tokens.down = true;
    const error = await rejection(
      useCases.handleActivation(
        activationJob(activation),
        job({ publishedAt: new Date(now.getTime() - deps.settings.retryHorizonMs) }),
        deps.logger,
      ),
    );
    expect((error as AppError).permanent).toBe(true);
    expect((error as AppError).message).toContain('callback token still failing');
    const connection = await store.get(id);
    expect(connection?.state).toBe('callback_failed');
    expect(connection?.callback?.outcome).toBe('failed');
  });

  it('when the token endpoint refuses our client, the callback fails for good at once', async () => {
    const { activate, tokens, store, callbacks } = setUp();
    tokens.refused = true;
    const error = await rejection(activate());
    expect((error as AppError).permanent).toBe(true);
    expect((error as AppError).message).toBe('callback token refused: token endpoint answered 401');
    expect((await store.get(id))?.state).toBe('callback_failed');
    expect(callbacks.sent).toEqual([]);
  });

  it('when another run holds a live lease, it looks again later without calling', async () => {
    const { activate, store, callbacks, deps } = setUp();
    await store.recordActivation({ activation, requestId: 'r', receivedAt: new Date() });
    await store.decide(
      id,
      { action: 'approve', ruleId: 'default', decidedBy: 'rules', decidedAt: new Date() },
      ['received'],
    );
    await store.acquireCallbackLease(id, 'approved', 10_000);
    const error = await rejection(activate(2));
    expect(error).toBeInstanceOf(RetryLaterError);
    expect((error as RetryLaterError).retryAfterMs).toBe(deps.settings.callbackTimeoutMs + 5000);
    expect(callbacks.sent).toEqual([]);
  });
});

describe('operators', () => {
  it("an approval of a held connection sends accepted; a rejection sends the operator's reason", async () => {
    for (const [action, state] of [
      ['approve', 'accepted'],
      ['reject', 'rejection_sent'],
    ] as const) {
      const { activate, useCases, callbacks, job, deps } = setUp('review');
      await activate();
      const result = await useCases.handleReviewDecision(
        {
          connectionId: id,
          action,
          actor: 'ops:alice',
          decidedAt: '2026-11-25T10:00:00.000Z',
          requestId: 'req-2',
          ...(action === 'reject' ? { reason: 'Unpaid invoices' } : {}),
        },
        job({ name: 'ReviewDecided' }),
        deps.logger,
      );
      expect(result.state).toBe(state);
      expect(callbacks.sent).toMatchObject([
        action === 'approve'
          ? { status: 'accepted' }
          : { status: 'rejected', error: 'Unpaid invoices' },
      ]);
    }
  });

  it('a decision for an unknown connection ends the job for good', async () => {
    const { useCases, job, deps } = setUp();
    const error = await rejection(
      useCases.handleReviewDecision(
        {
          connectionId: id,
          action: 'approve',
          actor: 'ops:a',
          decidedAt: '2026-11-25T10:00:00.000Z',
          requestId: 'r',
        },
        job(),
        deps.logger,
      ),
    );
    expect((error as AppError).permanent).toBe(true);
  });

  it('a retry of a failed callback sends it again from the decided state', async () => {
    const { activate, useCases, callbacks, store, job, deps } = setUp();
    callbacks.answer(answered(404));
    await rejection(activate());
    // What the operators' /retry does before it publishes the job.
    const doc = store.docs.get(id.toLowerCase());
    if (doc === undefined) throw new Error('no connection');
    doc.state = 'approved';
    const result = await useCases.handleCallbackRetry(
      { connectionId: id, actor: 'ops:a', requestedAt: '2026-11-25T10:00:00.000Z', requestId: 'r' },
      job({ name: 'CallbackRetryRequested' }),
      deps.logger,
    );
    expect(result.state).toBe('accepted');
    expect(callbacks.sent).toHaveLength(2);
  });
});
