// Contract tests of the answers, outbound bodies and job payloads.
import { describe, expect, it } from 'vitest';
import {
  ACTIVATION_STATUS_EVENT,
  contracts,
  DEACTIVATION_STATUS_EVENT,
  JOB_NAMES,
  jobIdFor,
  QUEUE_NAMES,
  QUEUE_OF_JOB,
} from '@fortellis-admin/contracts';
import { tutorialCurlPayload } from '@fortellis-admin/test-support';

const token = { jti: 'AT.abc', sub: '0oa1provider' };
const receivedAt = '2026-11-23T12:00:00.000Z';

describe('Admin API answers', () => {
  it('links response needs href and rel in every link', () => {
    expect(contracts.linksResponse.is({ links: [{ href: '/x', rel: 'self' }] })).toBe(true);
    expect(
      contracts.linksResponse.is({
        links: [{ href: '/x', rel: 'self', method: 'GET', title: 't' }],
      }),
    ).toBe(true);
    expect(contracts.linksResponse.issues({ links: [{ href: '/x' }] })).toEqual([
      { pointer: '/links/0/rel', message: 'is required' },
    ]);
    expect(contracts.linksResponse.is({})).toBe(false);
  });

  it('error response is an integer code and a message', () => {
    expect(contracts.errorResponse.is({ code: 400, message: 'bad' })).toBe(true);
    expect(contracts.errorResponse.is({ code: '400', message: 'bad' })).toBe(false);
    expect(contracts.errorResponse.is({ code: 400 })).toBe(false);
  });
});

describe('connection callback body', () => {
  it('accepts accepted, rejected with a reason, and auth credentials', () => {
    expect(contracts.connectionCallbackBody.is({ status: 'accepted' })).toBe(true);
    expect(contracts.connectionCallbackBody.is({ status: 'rejected', error: 'not a dealer' })).toBe(
      true,
    );
    expect(contracts.connectionCallbackBody.is({ status: 'accepted', auth: { apiKey: 'k' } })).toBe(
      true,
    );
  });

  it('rejects other statuses and non-string credentials', () => {
    expect(contracts.connectionCallbackBody.is({ status: 'pending' })).toBe(false);
    expect(contracts.connectionCallbackBody.is({ status: 'accepted', auth: { n: 1 } })).toBe(false);
  });
});

describe('integration status body', () => {
  const base = {
    module: { name: 'Integration backend', version: '1.0.0' },
    vendor_system: { name: 'Product', version: '22.04.1' },
  };

  it('accepts the deactivation and activation events of the seed document', () => {
    expect(
      contracts.integrationStatusBody.issues({
        application_code: 'vendor.application',
        ...base,
        events: [DEACTIVATION_STATUS_EVENT],
      }),
    ).toEqual([]);
    expect(
      contracts.integrationStatusBody.is({
        application_id: 'a1',
        module: { name: 'm' },
        events: [ACTIVATION_STATUS_EVENT],
      }),
    ).toBe(true);
  });

  it('needs exactly one of application_code and application_id', () => {
    const events = [DEACTIVATION_STATUS_EVENT];
    expect(contracts.integrationStatusBody.is({ ...base, events })).toBe(false);
    expect(
      contracts.integrationStatusBody.is({
        application_code: 'c',
        application_id: 'i',
        ...base,
        events,
      }),
    ).toBe(false);
  });

  it('needs module.name and at least one event', () => {
    expect(
      contracts.integrationStatusBody.is({
        application_code: 'c',
        module: {},
        events: [DEACTIVATION_STATUS_EVENT],
      }),
    ).toBe(false);
    expect(
      contracts.integrationStatusBody.is({
        application_code: 'c',
        module: { name: 'm' },
        events: [],
      }),
    ).toBe(false);
  });
});

describe('backend provision answer', () => {
  const credentials = (count: number) =>
    Object.fromEntries(Array.from({ length: count }, (_, n) => [`key${n}`, `value${n}`]));

  it('is an account and up to 20 string credentials, nothing else', () => {
    expect(contracts.backendProvisionAnswer.issues({})).toEqual([]);
    expect(
      contracts.backendProvisionAnswer.issues({ accountId: 'a', credentials: credentials(20) }),
    ).toEqual([]);
    expect(
      contracts.backendProvisionAnswer.issues({ accountId: 'a', credentials: credentials(21) }),
    ).toEqual([{ pointer: '/credentials', message: 'must NOT have more than 20 properties' }]);
    expect(contracts.backendProvisionAnswer.issues({ credentials: { pin: 1234 } })).toEqual([
      { pointer: '/credentials/pin', message: 'must be string' },
    ]);
    expect(contracts.backendProvisionAnswer.issues({ accountId: 'a', password: 'p' })).toEqual([
      { pointer: '', message: 'must NOT have additional properties' },
    ]);
  });
});

describe('job payloads', () => {
  it('ActivationReceived carries a valid activation, request id, time and token facts', () => {
    const job = { activation: tutorialCurlPayload, requestId: 'r-1', receivedAt, token };
    expect(contracts.activationReceivedJob.issues(job)).toEqual([]);
    expect(contracts.activationReceivedJob.is({ ...job, activation: { connectionId: 'x' } })).toBe(
      false,
    );
    expect(contracts.activationReceivedJob.is({ ...job, receivedAt: 'yesterday' })).toBe(false);
    expect(contracts.activationReceivedJob.is({ ...job, token: { ...token, raw: 'eyJ...' } })).toBe(
      false,
    );
  });

  it('DeactivationReceived needs a GUID connectionId', () => {
    const job = {
      connectionId: tutorialCurlPayload.connectionId,
      requestId: 'r',
      receivedAt,
      token,
    };
    expect(contracts.deactivationReceivedJob.is(job)).toBe(true);
    expect(contracts.deactivationReceivedJob.is({ ...job, connectionId: 'abc' })).toBe(false);
  });

  it('ReviewDecided needs a reason to reject', () => {
    const job = {
      connectionId: tutorialCurlPayload.connectionId,
      action: 'approve',
      actor: 'ops:alice',
      decidedAt: receivedAt,
      requestId: 'r',
    };
    expect(contracts.reviewDecidedJob.is(job)).toBe(true);
    expect(contracts.reviewDecidedJob.issues({ ...job, action: 'reject' })).toContainEqual({
      pointer: '/reason',
      message: 'is required',
    });
    expect(
      contracts.reviewDecidedJob.is({ ...job, action: 'reject', reason: 'unknown dealer' }),
    ).toBe(true);
  });

  it('ConnectionAccepted names the connection and subscription', () => {
    const job = {
      connectionId: tutorialCurlPayload.connectionId,
      subscriptionId: tutorialCurlPayload.subscriptionId,
      acceptedAt: receivedAt,
      requestId: 'r',
    };
    expect(contracts.connectionAcceptedJob.is(job)).toBe(true);
    expect(contracts.connectionAcceptedJob.is({ ...job, subscriptionId: undefined })).toBe(false);
  });
});

describe('queues and job ids', () => {
  it('routes every job name to a queue', () => {
    for (const name of Object.values(JOB_NAMES)) {
      expect(Object.values(QUEUE_NAMES)).toContain(QUEUE_OF_JOB[name]);
    }
  });

  it('derives the same job id from the same fact, whatever the GUID case', () => {
    const upper = tutorialCurlPayload.connectionId.toUpperCase();
    expect(
      jobIdFor.activationReceived({ activation: { ...tutorialCurlPayload, connectionId: upper } }),
    ).toBe(jobIdFor.activationReceived({ activation: tutorialCurlPayload }));
    expect(jobIdFor.deactivationReceived({ connectionId: upper })).toBe(
      `deactivation-${tutorialCurlPayload.connectionId}`,
    );
  });

  it('never uses the colon BullMQ reserves, and keeps kinds apart', () => {
    const id = tutorialCurlPayload.connectionId;
    const ids = [
      jobIdFor.activationReceived({ activation: tutorialCurlPayload }),
      jobIdFor.deactivationReceived({ connectionId: id }),
      jobIdFor.reviewDecided({ connectionId: id }),
      jobIdFor.connectionAccepted({ connectionId: id }),
    ];
    expect(new Set(ids).size).toBe(4);
    for (const jobId of ids) expect(jobId).not.toContain(':');
  });
});
