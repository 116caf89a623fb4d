// Contract tests of the activate request schema against the tutorial's sample payloads.
import { describe, expect, it } from 'vitest';
import { contracts, ContractViolationError } from '@fortellis-admin/contracts';
import {
  tutorialCurlPayload,
  tutorialSchemaPayload,
  withoutDroppedMembers,
} from '@fortellis-admin/test-support';

const validate = contracts.activateRequest;

const requiredPaths: ReadonlyArray<readonly string[]> = [
  ['organizationInfo'],
  ['organizationInfo', 'id'],
  ['organizationInfo', 'name'],
  ['organizationInfo', 'address'],
  ['organizationInfo', 'phoneNumber'],
  ['appInfo'],
  ['appInfo', 'id'],
  ['appInfo', 'name'],
  ['appInfo', 'developer'],
  ['appInfo', 'contactEmail'],
  ['appInfo', 'appOrgId'],
  ['userInfo'],
  ['userInfo', 'fortellisId'],
  ['apiInfo'],
  ['apiInfo', 'id'],
  ['apiInfo', 'name'],
  ['apiInfo', 'implementationName'],
  ['subscriptionId'],
  ['connectionId'],
];

function without(path: readonly string[]): Record<string, unknown> {
  const copy = structuredClone(tutorialCurlPayload) as Record<string, unknown>;
  let node = copy;
  for (const key of path.slice(0, -1)) node = node[key] as Record<string, unknown>;
  delete node[path.at(-1)!];
  return copy;
}

describe('activate request schema', () => {
  it('accepts both sample payloads of the tutorial', () => {
    expect(validate.issues(tutorialCurlPayload)).toEqual([]);
    expect(validate.issues(tutorialSchemaPayload)).toEqual([]);
  });

  it('accepts the samples without entityInfo and solutionInfo (dropped by Fortellis in 2022)', () => {
    expect(validate.issues(withoutDroppedMembers(tutorialCurlPayload))).toEqual([]);
    expect(validate.issues(withoutDroppedMembers(tutorialSchemaPayload))).toEqual([]);
  });

  it('accepts the sample without the optional countryCode', () => {
    const payload = structuredClone(tutorialCurlPayload);
    delete (payload.organizationInfo as { countryCode?: string }).countryCode;
    expect(validate.is(payload)).toBe(true);
  });

  it('tolerates unknown extra members at every level', () => {
    const payload = structuredClone(tutorialCurlPayload) as Record<string, unknown>;
    payload.somethingNew = { nested: true };
    (payload.apiInfo as Record<string, unknown>).version = '2';
    expect(validate.issues(payload)).toEqual([]);
  });

  it('rejects a JSON string holding the payload (the tutorial validated the raw string)', () => {
    expect(validate.issues(JSON.stringify(tutorialCurlPayload))).toEqual([
      { pointer: '', message: 'must be object' },
    ]);
  });

  it('rejects an array', () => {
    expect(validate.issues([tutorialCurlPayload])).toEqual([
      { pointer: '', message: 'must be object' },
    ]);
  });

  it.each(requiredPaths.map((path) => [`/${path.join('/')}`, path] as const))(
    'rejects a payload without %s, naming it',
    (pointer, path) => {
      expect(validate.issues(without(path))).toContainEqual({ pointer, message: 'is required' });
    },
  );

  it('rejects a connectionId that is not a GUID', () => {
    const payload = { ...structuredClone(tutorialCurlPayload), connectionId: 'not-a-guid' };
    expect(validate.issues(payload)).toEqual([
      { pointer: '/connectionId', message: 'must be a valid guid' },
    ]);
  });

  it('rejects a GUID wrapped in a URN or braces', () => {
    for (const connectionId of [
      'urn:uuid:2529a384-add3-4b6a-a935-ed09e45def12',
      '{2529a384-add3-4b6a-a935-ed09e45def12}',
    ]) {
      expect(validate.is({ ...structuredClone(tutorialCurlPayload), connectionId })).toBe(false);
    }
  });

  it('rejects a fortellisId that is not an email', () => {
    const payload = structuredClone(tutorialCurlPayload);
    payload.userInfo.fortellisId = 'user-at-example.com';
    expect(validate.issues(payload)).toEqual([
      { pointer: '/userInfo/fortellisId', message: 'must be a valid email' },
    ]);
  });

  it('refuses an overlong field a rule matches on (bounded before any pattern runs on it)', () => {
    const tooLong: Array<[string, (payload: typeof tutorialCurlPayload) => void, number]> = [
      ['/apiInfo/id', (payload) => (payload.apiInfo.id = 'v'.repeat(257)), 256],
      [
        '/userInfo/fortellisId',
        (payload) =>
          (payload.userInfo.fortellisId = `${'a'.repeat(70)}@${Array(4).fill('b'.repeat(60)).join('.')}.example.com`),
        320,
      ],
      [
        '/organizationInfo/countryCode',
        (payload) => (payload.organizationInfo.countryCode = 'U'.repeat(65)),
        64,
      ],
    ];
    for (const [pointer, lengthen, max] of tooLong) {
      const payload = structuredClone(tutorialCurlPayload);
      lengthen(payload);
      expect(validate.issues(payload), pointer).toContainEqual({
        pointer,
        message: `must NOT have more than ${max} characters`,
      });
    }
    const atTheLimit = structuredClone(tutorialCurlPayload);
    atTheLimit.apiInfo.id = 'v'.repeat(256);
    atTheLimit.organizationInfo.countryCode = 'U'.repeat(64);
    expect(validate.issues(atTheLimit)).toEqual([]);
  });

  it('accepts free text as apiInfo.id but not an empty one', () => {
    const payload = structuredClone(tutorialCurlPayload);
    payload.apiInfo.id = '';
    expect(validate.is(payload)).toBe(false);
  });

  it('parse() throws a ContractViolationError with a stable code and the first problems', () => {
    const error = (() => {
      try {
        validate.parse({ connectionId: 'x' });
      } catch (caught) {
        return caught;
      }
      return undefined;
    })();
    expect(error).toBeInstanceOf(ContractViolationError);
    const violation = error as ContractViolationError;
    expect(violation.code).toBe('CONTRACT_VIOLATION');
    expect(violation.httpStatus).toBe(400);
    expect(violation.message).toMatch(
      /^activate request is invalid: \/organizationInfo is required;/,
    );
    expect(violation.message).toMatch(/and 1 more$/);
  });
});
