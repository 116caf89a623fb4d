// The deprovision worker's use cases with in-memory fakes of their ports: no Redis, no MongoDB, no
// HTTP. Each step ends once; failures retry on their own without repeating finished steps.
import { describe, expect, it } from 'vitest';
import type { AppError } from '@fortellis-admin/contracts';
import { type ActivateRequest } from '@fortellis-admin/contracts';
import { RetryLaterError } from '@fortellis-admin/service-kit/pure';
import { tutorialCurlPayload } from '@fortellis-admin/test-support/doubles';
import { answered, createDeprovisionUseCases, fixture } from '../../test/deprovision-fakes.ts';

const activation: ActivateRequest = structuredClone(tutorialCurlPayload);
const id = activation.connectionId;
const deactivation = {
  connectionId: id,
  requestId: 'req-9',
  receivedAt: '2026-11-25T09:59:00.000Z',
  token: { jti: 'j', sub: 's' },
};

function setUp(options: Parameters<typeof fixture>[0] = {}) {
  const f = fixture(options);
  const useCases = createDeprovisionUseCases(f.deps);
  const deactivate = (overrides: Parameters<typeof f.job>[0] = {}) =>
    useCases.handleDeactivation(deactivation, f.job(overrides), f.deps.logger);
  return { ...f, useCases, deactivate };
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => {
      throw new Error('expected a rejection');
    },
    (error: unknown) => error,
  );
}

describe('a deactivation', () => {
  it('records it, cleans up the backend account and reports the deactivation, once each', async () => {
    const { store, backend, statusApi, deactivate } = setUp();
    store.accepted(activation);
    expect(await deactivate()).toEqual({
      connectionId: id,
      steps: { cleanup: 'done', deactivationReport: 'done' },
    });
    expect(backend.calls).toMatchObject([
      { connectionId: id, subscriptionId: activation.subscriptionId },
    ]);
    expect(statusApi.reports).toHaveLength(1);
    expect(statusApi.reports[0]?.body.events).toEqual([
      { category: 'activation', action: 'deactivated integration', deactivation_event: true },
    ]);
    expect((await store.get(id))?.state).toBe('deactivated');
  });

  it("takes each step's lease with the write before it: the record, then the clean-up's end", async () => {
    const { store, deactivate } = setUp();
    store.accepted(activation);
    await deactivate();
    expect(store.leasesTakenAlone).toEqual([]);
    expect((await store.get(id))?.steps).toMatchObject({
      cleanup: { status: 'done', attempts: 1 },
      deactivationReport: { status: 'done', attempts: 1 },
    });
  });

  it('delivered again, it repeats no step', async () => {
    const { store, backend, statusApi, deactivate } = setUp();
    store.accepted(activation);
    await deactivate();
    expect((await deactivate({ attempt: 2 })).steps).toEqual({
      cleanup: 'done',
      deactivationReport: 'done',
    });
    expect(backend.calls).toHaveLength(1);
    expect(statusApi.reports).toHaveLength(1);
  });

  it('for a connection never activated here, it writes a tombstone and skips both steps', async () => {
    const { store, backend, statusApi, deactivate } = setUp();
    expect((await deactivate()).steps).toEqual({
      cleanup: 'skipped',
      deactivationReport: 'skipped',
    });
    expect((await store.get(id))?.tombstone).toBe(true);
    expect(backend.calls).toEqual([]);
    expect(statusApi.reports).toEqual([]);
  });

  it('with the deprovisioner "none" it skips the clean-up; without a status API it skips the report', async () => {
    const { store, backend, deactivate } = setUp({ status: false });
    backend.kind = 'none';
    store.accepted(activation);
    expect((await deactivate()).steps).toEqual({
      cleanup: 'skipped',
      deactivationReport: 'skipped',
    });
    expect((await store.get(id))?.steps?.cleanup?.note).toContain('BACKEND_DEPROVISIONER is none');
    expect((await store.get(id))?.steps?.deactivationReport?.note).toContain(
      'INTEGRATION_STATUS_BASE_URL',
    );
  });
});

describe('what a deactivation owes', () => {
  it('for a connection never accepted (rejected, held, or its callback failed), it cleans up nothing and reports nothing', async () => {
    const { store, backend, statusApi, deactivate } = setUp();
    store.accepted(activation);
    const doc = store.docs.get(id.toLowerCase());
    if (doc === undefined) throw new Error('no connection');
    doc.state = 'rejection_sent';
    doc.callback = { status: 'rejected', attempts: 1, outcome: 'acknowledged' };
    expect((await deactivate()).steps).toEqual({
      cleanup: 'skipped',
      deactivationReport: 'skipped',
    });
    expect(backend.calls).toEqual([]);
    expect(statusApi.reports).toEqual([]);
  });

  it('for a connection whose account was provisioned but whose callback failed, it removes the account and reports nothing', async () => {
    const { store, backend, statusApi, deactivate } = setUp();
    store.accepted(activation);
    const doc = store.docs.get(id.toLowerCase());
    if (doc === undefined) throw new Error('no connection');
    doc.state = 'callback_failed';
    doc.callback = { status: 'accepted', attempts: 5, outcome: 'failed' };
    doc.provisioning = { status: 'done', attempts: 1, accountId: 'acct-7' };
    expect((await deactivate()).steps).toEqual({
      cleanup: 'done',
      deactivationReport: 'skipped',
    });
    expect(backend.calls).toMatchObject([{ connectionId: id, accountId: 'acct-7' }]);
    expect(statusApi.reports).toEqual([]);
  });

  it('while a provisioning call may still be on the wire, the clean-up waits for its lease to end', async () => {
    const { store, backend, deactivate, deps } = setUp();
    store.accepted(activation);
    const doc = store.docs.get(id.toLowerCase());
    if (doc === undefined) throw new Error('no connection');
    doc.state = 'approved';
    delete doc.callback;
    const leaseUntil = new Date(deps.clock.now().getTime() + 4000);
    doc.provisioning = { attempts: 1, leaseId: 'l-1', leaseUntil };
    const error = await rejection(deactivate());
    expect(error).toBeInstanceOf(RetryLaterError);
    expect((error as RetryLaterError).retryAfterMs).toBe(4000);
    expect(backend.calls).toEqual([]);
  });

  it('with activation reports on, an activation not yet reported is skipped so that "deactivated" is the last word', async () => {
    const { store, statusApi, deactivate, useCases, job, deps } = setUp({
      reportActivations: true,
    });
    store.accepted(activation);
    await deactivate();
    const late = await useCases.handleAccepted(
      {
        connectionId: id,
        subscriptionId: activation.subscriptionId,
        acceptedAt: '2026-11-25T10:00:00.000Z',
        requestId: 'r',
      },
      job({ name: 'ConnectionAccepted' }),
      deps.logger,
    );
    expect(late.steps).toEqual({ activationReport: 'skipped' });
    expect(statusApi.reports.map((r) => r.body.events[0]?.action)).toEqual([
      'deactivated integration',
    ]);
  });

  it('with an activation report being sent, the deactivation report waits for it', async () => {
    const { store, statusApi, deactivate } = setUp({ reportActivations: true });
    store.accepted(activation);
    await store.acquireCallLease(id, { call: 'step', step: 'activationReport' }, 10_000);
    expect(await rejection(deactivate())).toBeInstanceOf(RetryLaterError);
    expect(statusApi.reports).toEqual([]);
  });
});

describe('a step that fails', () => {
  it('when the backend answers 503, it gives the lease back and retries later with its Retry-After', async () => {
    const { store, backend, deactivate } = setUp();
    store.accepted(activation);
    backend.answers.answer(answered(503, '3'));
    const error = await rejection(deactivate());
    expect(error).toBeInstanceOf(RetryLaterError);
    expect((error as RetryLaterError).retryAfterMs).toBe(3000);
    expect(store.released).toEqual([{ step: 'cleanup', error: 'HTTP 503' }]);
    expect((await deactivate({ attempt: 2 })).steps.cleanup).toBe('done');
  });

  it('when the report fails after the clean-up, the retry reports without cleaning up again', async () => {
    const { store, backend, statusApi, deactivate } = setUp();
    store.accepted(activation);
    statusApi.answers.answer({ answered: false, error: 'ConnectTimeoutError: timed out' });
    expect(await rejection(deactivate())).toBeInstanceOf(RetryLaterError);
    expect((await deactivate({ attempt: 2 })).steps).toEqual({
      cleanup: 'done',
      deactivationReport: 'done',
    });
    expect(backend.calls).toHaveLength(1);
    expect(statusApi.reports).toHaveLength(2);
  });

  it('when it still fails past the horizon, it records it failed with a note and the job fails for good', async () => {
    const { store, backend, deactivate, now, deps } = setUp();
    store.accepted(activation);
    backend.answers.answer(answered(500));
    const error = await rejection(
      deactivate({ publishedAt: new Date(now.getTime() - deps.settings.retryHorizonMs) }),
    );
    expect((error as AppError).permanent).toBe(true);
    expect((error as AppError).message).toBe('steps failed: cleanup');
    const cleanup = (await store.get(id))?.steps?.cleanup;
    expect(cleanup?.status).toBe('failed');
    expect(cleanup?.note).toBe('gave up after 60 s');
    expect((await store.get(id))?.steps?.deactivationReport?.status).toBe('done');
  });

  it('when the backend refuses with 400, the step fails at once, counted as given up', async () => {
    const { store, backend, deactivate, givenUp } = setUp();
    store.accepted(activation);
    backend.answers.answer(answered(400));
    expect(((await rejection(deactivate())) as AppError).permanent).toBe(true);
    expect(backend.calls).toHaveLength(1);
    expect(givenUp).toEqual(['cleanup']);
    expect((await store.get(id))?.steps?.cleanup?.lastStatus).toBe(400);
  });

  it('a refused clean-up keeps the status, never the backend’s body: it may hold the account’s credentials', async () => {
    const { store, backend, deactivate } = setUp();
    store.accepted(activation);
    backend.answers.answer({ answered: true, status: 409, body: '{"apiSecret":"secret-value"}' });
    await rejection(deactivate());
    expect(store.stepEnds.filter((end) => end.step === 'cleanup')).toEqual([
      { step: 'cleanup', status: 'failed', httpStatus: 409 },
    ]);
  });

  it('a refused report keeps the status API’s answer without the token it was sent with', async () => {
    const { store, statusApi, deactivate } = setUp();
    store.accepted(activation);
    statusApi.answers.answer({
      answered: true,
      status: 400,
      body: '{"error":"bad event","echo":"Bearer idp-1"}',
    });
    await rejection(deactivate());
    expect(store.stepEnds.filter((end) => end.step === 'deactivationReport')).toEqual([
      {
        step: 'deactivationReport',
        status: 'failed',
        httpStatus: 400,
        body: '{"error":"bad event","echo":"Bearer [redacted]"}',
      },
    ]);
  });

  it('when the status API refuses the token once, it fetches a new one and reports', async () => {
    const { store, statusApi, deactivate } = setUp();
    store.accepted(activation);
    statusApi.answers.answer(answered(401));
    expect((await deactivate()).steps.deactivationReport).toBe('done');
    expect(statusApi.reports.map((r) => r.token)).toEqual(['idp-1', 'idp-2']);
  });

  it('when the status token endpoint is down, it gives the lease back and the error goes to the queue', async () => {
    const { store, statusApi, deactivate } = setUp();
    store.accepted(activation);
    statusApi.tokenDown = true;
    expect(((await rejection(deactivate())) as Error).message).toBe(
      'idp token endpoint answered 500',
    );
    expect(store.released).toEqual([
      { step: 'deactivationReport', error: 'idp token endpoint answered 500' },
    ]);
  });

  it('when the status token endpoint refuses our client, the report ends failed and the job fails for good', async () => {
    const { store, statusApi, deactivate } = setUp();
    store.accepted(activation);
    statusApi.tokenRefused = true;
    const error = await rejection(deactivate());
    expect((error as AppError).message).toBe('steps failed: deactivationReport');
    expect((await store.get(id))?.steps?.deactivationReport?.status).toBe('failed');
    expect((await store.get(id))?.steps?.cleanup?.status).toBe('done');
  });

  it('when another worker holds the step, it looks again later without calling', async () => {
    const { store, backend, deactivate, deps } = setUp();
    store.accepted(activation);
    await store.recordDeactivation(id, { requestId: 'r', receivedAt: new Date() });
    await store.acquireCallLease(id, { call: 'step', step: 'cleanup' }, 10_000);
    const error = await rejection(deactivate());
    expect((error as RetryLaterError).retryAfterMs).toBe(deps.settings.stepLeaseMs);
    expect(backend.calls).toEqual([]);
  });
});

describe('a step whose end was not written (the database failed after the call)', () => {
  it('the retry writes the end the earlier attempt recorded beside the jobs, and calls nobody', async () => {
    const { store, backend, statusApi, ledger, deactivate } = setUp();
    store.accepted(activation);
    await store.recordDeactivation(id, { requestId: 'r', receivedAt: new Date() });
    const earlier = await store.acquireCallLease(id, { call: 'step', step: 'cleanup' }, -1);
    if (earlier.kind !== 'acquired') throw new Error('no lease');
    await ledger.record(earlier.leaseId, { status: 'done', httpStatus: 200 });
    await deactivate({ attempt: 2 });
    expect(backend.calls).toEqual([]);
    expect((await store.get(id))?.steps?.cleanup?.status).toBe('done');
    expect(statusApi.reports).toHaveLength(1);
  });

  it('an earlier attempt that recorded nothing is abandoned: the step is attempted again, and the earlier attempt can no longer record', async () => {
    const { store, backend, ledger, deactivate } = setUp();
    store.accepted(activation);
    await store.recordDeactivation(id, { requestId: 'r', receivedAt: new Date() });
    const earlier = await store.acquireCallLease(id, { call: 'step', step: 'cleanup' }, -1);
    if (earlier.kind !== 'acquired') throw new Error('no lease');
    await deactivate({ attempt: 2 });
    expect(backend.calls).toHaveLength(1);
    expect(await ledger.record(earlier.leaseId, { status: 'done' })).toBe(false);
  });
});

describe('the reconciler', () => {
  it('publishes a deactivation whose steps have not ended and has no live job; a live job keeps it', async () => {
    const { store, useCases, reconcilerJobs, deps, now } = setUp();
    store.accepted(activation);
    await store.recordDeactivation(id, { requestId: 'r', receivedAt: new Date() });
    const doc = store.docs.get(id.toLowerCase());
    if (doc === undefined) throw new Error('not stored');
    doc.updatedAt = new Date(now.getTime() - 10 * 60_000);
    reconcilerJobs.live.add(`deactivation-${id.toLowerCase()}`);
    expect(await useCases.handleReconciliation(deps.logger)).toEqual({ found: 1, published: 0 });
    reconcilerJobs.live.clear();
    expect(await useCases.handleReconciliation(deps.logger)).toEqual({ found: 1, published: 1 });
    expect(reconcilerJobs.published).toMatchObject([{ connectionId: id, state: 'deactivated' }]);
  });

  it('a stalled deactivation runs its steps once', async () => {
    const { store, backend, statusApi, useCases, job, deps } = setUp();
    store.accepted(activation);
    const { connection } = await store.recordDeactivation(id, {
      requestId: 'r',
      receivedAt: new Date(),
    });
    const data = {
      connectionId: id,
      state: 'deactivated',
      version: connection.version,
      foundAt: new Date().toISOString(),
    };
    await useCases.handleStalledConnection(data, job(), deps.logger);
    await useCases.handleStalledConnection(data, job(), deps.logger);
    expect(backend.calls).toHaveLength(1);
    expect(statusApi.reports).toHaveLength(1);
  });
});

describe('other jobs', () => {
  it('an accepted connection is reported as activated only when configured', async () => {
    for (const reportActivations of [false, true]) {
      const { store, statusApi, useCases, job, deps } = setUp({ reportActivations });
      store.accepted(activation);
      const result = await useCases.handleAccepted(
        {
          connectionId: id,
          subscriptionId: activation.subscriptionId,
          acceptedAt: '2026-11-25T10:00:00.000Z',
          requestId: 'r',
        },
        job({ name: 'ConnectionAccepted' }),
        deps.logger,
      );
      expect(result.steps).toEqual(reportActivations ? { activationReport: 'done' } : {});
      expect(statusApi.reports).toHaveLength(reportActivations ? 1 : 0);
    }
  });

  it('an acceptance announced before the approval worker recorded it waits for the record', async () => {
    const { store, statusApi, useCases, job, deps } = setUp({ reportActivations: true });
    store.accepted(activation);
    const doc = store.docs.get(id.toLowerCase())!;
    doc.state = 'approved';
    delete doc.callback?.outcome;
    const accepted = {
      connectionId: id,
      subscriptionId: activation.subscriptionId,
      acceptedAt: '2026-11-25T10:00:00.000Z',
      requestId: 'r',
    };
    const early = await rejection(
      useCases.handleAccepted(accepted, job({ name: 'ConnectionAccepted' }), deps.logger),
    );
    expect(early).toBeInstanceOf(RetryLaterError);
    expect(statusApi.reports).toEqual([]);
    store.accepted(activation);
    expect(
      (await useCases.handleAccepted(accepted, job({ name: 'ConnectionAccepted' }), deps.logger))
        .steps,
    ).toEqual({ activationReport: 'done' });
  });

  it('an operator retry runs the steps again for a deactivated connection, and nothing otherwise', async () => {
    const { store, backend, useCases, job, deps } = setUp();
    store.accepted(activation);
    const retry = {
      connectionId: id,
      actor: 'ops:a',
      requestedAt: '2026-11-25T10:00:00.000Z',
      requestId: 'r',
    };
    expect((await useCases.handleRetry(retry, job(), deps.logger)).steps).toEqual({});
    expect(backend.calls).toEqual([]);
    await store.recordDeactivation(id, { requestId: 'r', receivedAt: new Date() });
    expect((await useCases.handleRetry(retry, job(), deps.logger)).steps).toEqual({
      cleanup: 'done',
      deactivationReport: 'done',
    });
  });

  it('a retry reopens the steps that failed before it was requested (the operators only publish the job)', async () => {
    const { store, backend, useCases, job, deps, now, deactivate } = setUp();
    store.accepted(activation);
    backend.answers.answer(answered(400));
    await rejection(deactivate());
    expect((await store.get(id))?.steps?.cleanup?.status).toBe('failed');
    const retry = (at: Date) => ({
      connectionId: id,
      actor: 'ops:a',
      requestedAt: at.toISOString(),
      requestId: 'r',
    });
    // A stale delivery, requested before this failure, reopens nothing.
    const stale = await rejection(
      useCases.handleRetry(retry(new Date(now.getTime() - 60_000)), job(), deps.logger),
    );
    expect((stale as AppError).message).toBe('steps failed: cleanup');
    expect(backend.calls).toHaveLength(1);
    expect((await useCases.handleRetry(retry(now), job(), deps.logger)).steps.cleanup).toBe('done');
    expect(backend.calls).toHaveLength(2);
  });

  it('a retry for an unknown connection ends the job for good', async () => {
    const { useCases, job, deps } = setUp();
    const error = await rejection(
      useCases.handleRetry(
        {
          connectionId: id,
          actor: 'ops:a',
          requestedAt: '2026-11-25T10:00:00.000Z',
          requestId: 'r',
        },
        job(),
        deps.logger,
      ),
    );
    expect((error as AppError).permanent).toBe(true);
  });
});
