// The two sample activate payloads of the Fortellis tutorial (../shared/seeds), verbatim.
export const tutorialCurlPayload = {
  organizationInfo: {
    id: '2529a384-aee3-4b9a-af35-ed08e77dee15',
    name: 'Super Car Dealership',
    address: '1234 Some St. Columbus, OH 43235',
    countryCode: 'US',
    phoneNumber: '(614) 555-5555',
  },
  appInfo: {
    id: 'f83eaff0-3f88-4ebd-9fc8-25f051632968',
    name: 'Awesome Application',
    developer: 'Awesome App Developer',
    contactEmail: 'contact@example.com',
    appOrgId: '2059d5f5-bccb-40c8-937e-f217311feabd',
  },
  entityInfo: {
    id: '2529a384-aee3-4b9a-af35-ed08e77dee15',
    name: 'Super Car Dealership',
    address: '1234 Some St. Columbus, OH 43235',
    countryCode: 'US',
    phoneNumber: '(614) 555-5555',
  },
  solutionInfo: {
    id: 'f83eaff0-3f88-4ebd-9fc8-25f051632968',
    name: 'Awesome Application',
    developer: 'Awesome App Developer',
    contactEmail: 'contact@example.com',
    appOrgId: '2059d5f5-bccb-40c8-937e-f217311feabd',
  },
  userInfo: { fortellisId: 'user@example.com' },
  apiInfo: { id: 'v1-appointments', name: 'Appointments', implementationName: 'Fortellis Spec 8' },
  subscriptionId: '2529a384-acc3-4b6a-a835-ed09e77dee15',
  connectionId: '2529a384-add3-4b6a-a935-ed09e45def12',
};

export const tutorialSchemaPayload = {
  organizationInfo: {
    id: 'b74c3f9a-17ee-4943-81f2-ae22bb4f260d',
    name: 'Jareds Entity TBD',
    address: '6701 Burnet Rd Austin TX 78757 US',
    countryCode: 'US',
    phoneNumber: '2819234655',
  },
  appInfo: {
    id: '575d7513-2d43-4f10-a07b-c8e6c3c5ab3a',
    name: 'b6bc47a9-dbda-4c4f-81cb-8e5e29ff04bf Testing App',
    developer: 'Jared.Jones@cdk.com',
    contactEmail: 'Jared.Jones@cdk.com',
    appOrgId: 'b74c3f9a-17ee-4943-81f2-ae22bb4f260d',
  },
  entityInfo: {
    id: 'b74c3f9a-17ee-4943-81f2-ae22bb4f260d',
    name: 'Jareds Entity TBD',
    address: '6701 Burnet Rd Austin TX 78757 US',
    countryCode: 'US',
    phoneNumber: '2819234655',
  },
  solutionInfo: {
    id: '575d7513-2d43-4f10-a07b-c8e6c3c5ab3a',
    name: 'b6bc47a9-dbda-4c4f-81cb-8e5e29ff04bf Testing App',
    developer: 'Jared.Jones@cdk.com',
    contactEmail: 'Jared.Jones@cdk.com',
    appOrgId: 'b74c3f9a-17ee-4943-81f2-ae22bb4f260d',
  },
  userInfo: { fortellisId: 'test.email@cdk.com' },
  apiInfo: {
    id: 'api-v2-b6bc47a9-dbda-4c4f-81cb-8e5e29ff04bf',
    name: 'api-v2-b6bc47a9-dbda-4c4f-81cb-8e5e29ff04bf',
    implementationName: 'Fortellis Spec 8',
  },
  subscriptionId: '568a62f4-a7c3-468c-973c-004e6cc50a9b',
  connectionId: '5b8a6242-a1aa-42c5-bec8-4eaa634d5470',
};

/** A deep copy without the members Fortellis dropped in September 2022. */
export function withoutDroppedMembers(payload: Record<string, unknown>): Record<string, unknown> {
  const copy = structuredClone(payload);
  delete copy.entityInfo;
  delete copy.solutionInfo;
  return copy;
}
