// The approval worker's use cases with in-memory fakes of their ports: no Redis, no MongoDB, no
// HTTP. The same stories the component tests tell, fast and one decision at a time.
import { describe, expect, it } from 'vitest';
import { AppError, type ActivateRequest } from '@fortellis-admin/contracts';
import { RetryLaterError } from '@fortellis-admin/service-kit/pure';
import { tutorialCurlPayload } from '@fortellis-admin/test-support/doubles';
import {
  activationJob,
  answered,
  createApprovalUseCases,
  fixture,
} from '../../test/approval-fakes.ts';
import { defaultPolicy } from '@fortellis-admin/approval-rules';

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
    // The lease came with the insert, the announcement with the callback's end.
    expect(store.leasesTakenAlone).toBe(0);
    expect((await store.get(id))?.acceptanceAnnounced).toBe(true);
  });

  it('when the announcement cannot be published, it records the callback, fails the job, and the retry announces without calling again', async () => {
    const { activate, callbacks, announcements, announcing, store } = setUp('approve');
    announcing.down = true;
    await expect(activate()).rejects.toThrow('connection lost');
    expect(await store.get(id)).toMatchObject({ state: 'accepted' });
    expect((await store.get(id))?.acceptanceAnnounced).toBeUndefined();
    announcing.down = false;
    expect(await activate(2)).toEqual({ connectionId: id, state: 'accepted' });
    expect(callbacks.sent).toHaveLength(1);
    expect(announcements).toHaveLength(1);
    expect((await store.get(id))?.acceptanceAnnounced).toBe(true);
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

  it('when Fortellis answers 404, the callback fails for good at once, counted as given up', async () => {
    const { activate, callbacks, store, givenUp } = setUp();
    callbacks.answer(answered(404));
    expect(((await rejection(activate())) as AppError).permanent).toBe(true);
    expect(callbacks.sent).toHaveLength(1);
    expect(givenUp).toEqual(['callback']);
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
    await store.recordDecision(
      id,
      { action: 'approve', ruleId: 'default', decidedBy: 'rules', decidedAt: new Date() },
      ['received'],
    );
    await store.acquireCallLease(id, { call: 'callback', state: 'approved' }, 10_000);
    const error = await rejection(activate(2));
    expect(error).toBeInstanceOf(RetryLaterError);
    expect((error as RetryLaterError).retryAfterMs).toBe(deps.settings.callbackLeaseMs);
    expect(callbacks.sent).toEqual([]);
  });
});

describe('a callback whose end was not written (the database failed after the call)', () => {
  async function approvedWithEarlierAttempt(f: ReturnType<typeof setUp>) {
    await f.store.recordActivation({ activation, requestId: 'r', receivedAt: new Date() });
    await f.store.recordDecision(
      id,
      { action: 'approve', ruleId: 'default', decidedBy: 'rules', decidedAt: new Date() },
      ['received'],
    );
    // The earlier attempt's lease has lapsed, its end never written.
    const earlier = await f.store.acquireCallLease(id, { call: 'callback', state: 'approved' }, -1);
    if (earlier.kind !== 'acquired') throw new Error('no lease');
    return earlier.leaseId;
  }

  it('the retry writes the acknowledgement the earlier attempt recorded, sends nothing, and announces once', async () => {
    const f = setUp();
    const earlier = await approvedWithEarlierAttempt(f);
    await f.ledger.record(earlier, { outcome: 'acknowledged', status: 200 });
    expect((await f.activate(2)).state).toBe('accepted');
    expect(f.callbacks.sent).toEqual([]);
    expect(f.announcements).toHaveLength(1);
  });

  it('a refusal the earlier attempt recorded ends callback_failed without sending again', async () => {
    const f = setUp();
    const earlier = await approvedWithEarlierAttempt(f);
    await f.ledger.record(earlier, {
      outcome: 'failed',
      status: 400,
      body: 'no',
      giveUp: 'refused',
    });
    const error = await rejection(f.activate(2));
    expect((error as AppError).permanent).toBe(true);
    expect((await f.store.get(id))?.state).toBe('callback_failed');
    expect(f.callbacks.sent).toEqual([]);
  });

  it('an earlier attempt that recorded nothing is abandoned: the callback is sent, and the earlier attempt can no longer record', async () => {
    const f = setUp();
    const earlier = await approvedWithEarlierAttempt(f);
    expect((await f.activate(2)).state).toBe('accepted');
    expect(f.callbacks.sent).toHaveLength(1);
    expect(await f.ledger.record(earlier, { outcome: 'acknowledged' })).toBe(false);
  });
});

describe('what is kept of a failed callback’s answer', () => {
  it('nothing of the body when the callback carried the buyer’s credentials: an answer may quote them', async () => {
    const f = setUp('approve');
    f.provisioner.kind = 'http';
    f.callbacks.answer({
      answered: true,
      status: 400,
      body: `{"message":"auth.apiKey key-${id} is not allowed"}`,
    });
    await rejection(f.activate());
    expect(f.store.callbackEnds).toEqual([{ outcome: 'failed', status: 400 }]);
  });

  it('the body of a refused rejection, without the bearer token it was sent with', async () => {
    const f = setUp('reject');
    f.callbacks.answer({
      answered: true,
      status: 400,
      body: '{"message":"bad status","token":"token-1"}',
    });
    await rejection(f.activate());
    expect(f.store.callbackEnds).toEqual([
      { outcome: 'failed', status: 400, body: '{"message":"bad status","token":"[redacted]"}' },
    ]);
  });
});

describe('the reconciler', () => {
  async function stalled(f: ReturnType<typeof setUp>, state: 'received' | 'approved') {
    await f.store.recordActivation({ activation, requestId: 'r', receivedAt: new Date() });
    if (state === 'approved')
      await f.store.recordDecision(
        id,
        { action: 'approve', ruleId: 'default', decidedBy: 'rules', decidedAt: new Date() },
        ['received'],
      );
    const doc = f.store.docs.get(id.toLowerCase());
    if (doc === undefined) throw new Error('not stored');
    doc.updatedAt = new Date(f.now.getTime() - 10 * 60_000);
    return doc;
  }

  it('publishes a connection that needs a callback and has no live job, naming its version', async () => {
    const f = setUp();
    const doc = await stalled(f, 'approved');
    expect(await f.useCases.handleReconciliation(f.deps.logger)).toEqual({
      found: 1,
      published: 1,
    });
    expect(f.reconcilerJobs.published).toEqual([
      { connectionId: id, state: 'approved', version: doc.version, foundAt: f.now.toISOString() },
    ]);
  });

  it('leaves a connection with a live job to it, and one changed recently alone', async () => {
    const f = setUp();
    await stalled(f, 'approved');
    f.reconcilerJobs.live.add(`activation-${id.toLowerCase()}`);
    expect(await f.useCases.handleReconciliation(f.deps.logger)).toEqual({
      found: 1,
      published: 0,
    });
    const fresh = setUp();
    await fresh.store.recordActivation({ activation, requestId: 'r', receivedAt: new Date() });
    expect((await fresh.useCases.handleReconciliation(fresh.deps.logger)).found).toBe(0);
  });

  it('a stalled connection still received is decided by the rules and called back once', async () => {
    const f = setUp();
    const doc = await stalled(f, 'received');
    const result = await f.useCases.handleStalledConnection(
      { connectionId: id, state: 'received', version: doc.version, foundAt: f.now.toISOString() },
      f.job({ name: 'StalledConnectionFound' }),
      f.deps.logger,
    );
    expect(result.state).toBe('accepted');
    expect(f.callbacks.sent).toHaveLength(1);
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

  it('a retry of a failed callback reopens it (the operators only publish the job) and sends it again', async () => {
    const { activate, useCases, callbacks, store, job, deps, now } = setUp();
    callbacks.answer(answered(404));
    await rejection(activate());
    expect((await store.get(id))?.state).toBe('callback_failed');
    const result = await useCases.handleRetryRequested(
      { connectionId: id, actor: 'ops:a', requestedAt: now.toISOString(), requestId: 'r' },
      job({ name: 'CallbackRetryRequested' }),
      deps.logger,
    );
    expect(result.state).toBe('accepted');
    expect(callbacks.sent).toHaveLength(2);
  });

  it('a retry requested before the callback failed (a stale delivery) reopens nothing', async () => {
    const { activate, useCases, callbacks, store, job, deps, now } = setUp();
    callbacks.answer(answered(404));
    await rejection(activate());
    const result = await useCases.handleRetryRequested(
      {
        connectionId: id,
        actor: 'ops:a',
        requestedAt: new Date(now.getTime() - 60_000).toISOString(),
        requestId: 'r',
      },
      job({ name: 'CallbackRetryRequested' }),
      deps.logger,
    );
    expect(result.state).toBe('callback_failed');
    expect((await store.get(id))?.state).toBe('callback_failed');
    expect(callbacks.sent).toHaveLength(1);
  });
});

describe('a suspension (an operator stops traffic for an accepted connection)', () => {
  /** An accepted connection, suspended as the operators' service records it. */
  async function suspended(f: ReturnType<typeof setUp>) {
    await f.activate();
    const doc = f.store.docs.get(id.toLowerCase());
    if (doc === undefined) throw new Error('no connection');
    doc.state = 'suspending';
    doc.suspension = { reason: 'Unpaid invoices', by: 'ops:alice', at: f.now };
    doc.callback = { status: 'rejected', attempts: 0 };
    return useCaseInput(f);
  }
  const useCaseInput = (f: ReturnType<typeof setUp>) =>
    [
      {
        connectionId: id,
        reason: 'Unpaid invoices',
        actor: 'ops:alice',
        requestedAt: f.now.toISOString(),
        requestId: 'req-s',
      },
      f.job({ name: 'SuspensionRequested' }),
      f.deps.logger,
    ] as const;

  it('sends rejected with its reason once and ends suspended; a repeat sends nothing', async () => {
    const f = setUp();
    const input = await suspended(f);
    expect(await f.useCases.handleSuspension(...input)).toEqual({
      connectionId: id,
      state: 'suspended',
    });
    expect(f.callbacks.sent).toMatchObject([
      { status: 'accepted' },
      { status: 'rejected', error: 'Unpaid invoices' },
    ]);
    expect((await f.useCases.handleSuspension(...input)).state).toBe('suspended');
    expect(f.callbacks.sent).toHaveLength(2);
    expect((await f.store.get(id))?.state).toBe('suspended');
  });

  it('a 503 is retried like any callback; a refusal ends callback_failed, and an operator retry sends the rejected again', async () => {
    const f = setUp();
    const input = await suspended(f);
    f.callbacks.answer(answered(503));
    expect(await rejection(f.useCases.handleSuspension(...input))).toBeInstanceOf(RetryLaterError);
    f.callbacks.answer(answered(404));
    await rejection(f.useCases.handleSuspension(...input));
    expect((await f.store.get(id))?.state).toBe('callback_failed');
    const retried = await f.useCases.handleRetryRequested(
      { connectionId: id, actor: 'ops:bob', requestedAt: f.now.toISOString(), requestId: 'r' },
      f.job({ name: 'CallbackRetryRequested' }),
      f.deps.logger,
    );
    expect(retried.state).toBe('suspended');
    expect(f.callbacks.sent.slice(1)).toMatchObject([
      { status: 'rejected', error: 'Unpaid invoices' },
      { status: 'rejected', error: 'Unpaid invoices' },
      { status: 'rejected', error: 'Unpaid invoices' },
    ]);
  });

  it('an acceptance not yet announced is announced before the suspension is sent', async () => {
    const f = setUp();
    const input = await suspended(f);
    const doc = f.store.docs.get(id.toLowerCase());
    if (doc === undefined) throw new Error('no connection');
    delete doc.acceptanceAnnounced;
    f.announcements.splice(0);
    expect((await f.useCases.handleSuspension(...input)).state).toBe('suspended');
    expect(f.announcements).toMatchObject([{ connectionId: id }]);
    expect((await f.store.get(id))?.acceptanceAnnounced).toBe(true);
  });

  it('a stalled suspension (its job lost) is sent by the reconciler’s job', async () => {
    const f = setUp();
    await suspended(f);
    const result = await f.useCases.handleStalledConnection(
      { connectionId: id, state: 'suspending', version: 3, foundAt: f.now.toISOString() },
      f.job({ name: 'StalledConnectionFound' }),
      f.deps.logger,
    );
    expect(result.state).toBe('suspended');
    expect(f.callbacks.sent.at(-1)).toMatchObject({ status: 'rejected', error: 'Unpaid invoices' });
  });
});

describe('provisioning the buyer’s account before the accepted callback', () => {
  function withProvisioner(action: 'approve' | 'reject' = 'approve') {
    const f = setUp(action);
    f.provisioner.kind = 'http';
    return f;
  }

  it('provisions once, sends its credentials as auth, and keeps them sealed only until acknowledged', async () => {
    const { activate, provisioner, callbacks, store } = withProvisioner();
    expect(await activate()).toEqual({ connectionId: id, state: 'accepted' });
    expect(provisioner.calls).toEqual([id]);
    expect(callbacks.sent).toMatchObject([{ status: 'accepted', auth: { apiKey: `key-${id}` } }]);
    const stored = await store.get(id);
    expect(stored?.provisioning).toMatchObject({
      status: 'done',
      accountId: `acct-${id}`,
      credentialNames: ['apiKey'],
    });
    // Acknowledged: the sealed credentials are gone, the callback's lease came with the account.
    expect(stored?.provisioning?.credentials).toBeUndefined();
    expect(store.leasesTakenAlone).toBe(0);
  });

  it('a rejection provisions nothing', async () => {
    const { activate, provisioner, callbacks } = withProvisioner('reject');
    expect((await activate()).state).toBe('rejection_sent');
    expect(provisioner.calls).toEqual([]);
    expect(callbacks.sent[0]?.auth).toBeUndefined();
  });

  it('a 503 is retried later; the retry provisions and calls back once', async () => {
    const { activate, provisioner, callbacks, store } = withProvisioner();
    provisioner.answer(answered(503));
    expect(await rejection(activate())).toBeInstanceOf(RetryLaterError);
    expect((await store.get(id))?.state).toBe('approved');
    expect(callbacks.sent).toEqual([]);
    expect(store.released).toEqual(['HTTP 503']);
    expect((await activate(2)).state).toBe('accepted');
    expect(provisioner.calls).toHaveLength(2);
    expect(callbacks.sent).toHaveLength(1);
  });

  it('when the callback fails after provisioning, the retry sends the same credentials without provisioning again', async () => {
    const { activate, provisioner, callbacks, store } = withProvisioner();
    callbacks.answer(answered(503));
    expect(await rejection(activate())).toBeInstanceOf(RetryLaterError);
    // Still waiting for the callback: the credentials stay, sealed (never in clear).
    const sealed = (await store.get(id))?.provisioning?.credentials;
    expect(sealed?.data).toBeDefined();
    expect(JSON.stringify(sealed)).not.toContain(`key-${id}`);
    expect((await activate(2)).state).toBe('accepted');
    expect(provisioner.calls).toHaveLength(1);
    expect(callbacks.sent.map((sent) => sent.auth)).toEqual([
      { apiKey: `key-${id}` },
      { apiKey: `key-${id}` },
    ]);
  });

  it('a refusal gives up visibly: provisioning_failed, no callback, counted; an operator retry provisions again', async () => {
    const { activate, provisioner, callbacks, store, givenUp, useCases, job, deps } =
      withProvisioner();
    provisioner.answer(answered(422));
    const error = await rejection(activate());
    expect(error).toBeInstanceOf(AppError);
    expect((error as AppError).permanent).toBe(true);
    expect((await store.get(id))?.state).toBe('provisioning_failed');
    expect(callbacks.sent).toEqual([]);
    expect(givenUp).toEqual(['provisioning']);
    const retried = await useCases.handleRetryRequested(
      {
        connectionId: id,
        actor: 'ops:alice',
        requestedAt: new Date().toISOString(),
        requestId: 'r',
      },
      job(),
      deps.logger,
    );
    expect(retried.state).toBe('accepted');
    expect(provisioner.calls).toHaveLength(2);
    expect(callbacks.sent).toMatchObject([{ status: 'accepted', auth: { apiKey: `key-${id}` } }]);
  });

  it('an answer that is not the contract gives up, naming what is wrong', async () => {
    const { activate, provisioner, store } = withProvisioner();
    provisioner.answer({ answered: true, status: 200, body: '{"credentials":{"apiKey":42}}' });
    const error = await rejection(activate());
    expect((error as Error).message).toContain('/credentials/apiKey must be string');
    expect((await store.get(id))?.provisioning?.status).toBe('failed');
  });

  const tooMany = Object.fromEntries(
    Array.from({ length: 21 }, (_, n) => [`key${n}`, `secret-value-${n}`]),
  );
  it.each([
    [
      'a credential that is not a string',
      { accountId: 'acct-1', credentials: { apiKey: 'secret-value-a', pin: 4242 } },
      [{ pointer: '/credentials/pin', message: 'must be string' }],
    ],
    [
      'more than 20 credentials',
      { accountId: 'acct-1', credentials: tooMany },
      [{ pointer: '/credentials', message: 'must NOT have more than 20 properties' }],
    ],
    [
      'a field the contract does not know',
      {
        accountId: 'acct-1',
        credentials: { apiKey: 'secret-value-b' },
        password: 'secret-value-c',
      },
      [{ pointer: '', message: 'must NOT have additional properties' }],
    ],
  ])(
    'a 2xx with %s keeps only the contract problems: nothing of the answer is stored, sent or told',
    async (_what, answer, problems) => {
      const { activate, provisioner, callbacks, store } = withProvisioner();
      provisioner.answer({ answered: true, status: 200, body: JSON.stringify(answer) });
      const error = await rejection(activate());
      expect(store.provisioningFailures).toEqual([
        { httpStatus: 200, problems, note: expect.stringContaining('breaks the contract') },
      ]);
      const stored = await store.get(id);
      expect(stored?.state).toBe('provisioning_failed');
      expect(stored?.provisioning?.credentials).toBeUndefined();
      expect(callbacks.sent).toEqual([]);
      const told = JSON.stringify([store.provisioningFailures, stored, (error as Error).message]);
      expect(told).not.toMatch(/secret-value|4242/);
    },
  );

  it('still failing past the retry horizon, it gives up', async () => {
    const { useCases, provisioner, store, job, deps, now } = withProvisioner();
    provisioner.answer(answered(503));
    const late = job({ publishedAt: new Date(now.getTime() - 61_000) });
    const error = await rejection(
      useCases.handleActivation(activationJob(activation), late, deps.logger),
    );
    expect((error as Error).message).toContain('giving up');
    expect((await store.get(id))?.state).toBe('provisioning_failed');
  });
});
