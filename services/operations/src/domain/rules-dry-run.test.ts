// The operators' dry run stops at its time limit and says which samples it did not try, so that a
// large rules file with many samples cannot hold the operations service's event loop.
import { describe, expect, it } from 'vitest';
import { ActivationGenerator } from '@fortellis-admin/simulator';
import { dryRunRules, RULES_DRY_RUN_TIME_LIMIT_MS } from './rules-dry-run.ts';

const RULES = `rules:
  - id: appointments
    when: { apiInfo.id: { equals: v1-appointments } }
    action: approve
`;

const generator = new ActivationGenerator(77);
const samples = Array.from({ length: 5 }, () => generator.next());
const noStore = {
  list: () => Promise.reject(new Error('the posted samples are tried, not stored ones')),
};

describe('dryRunRules', () => {
  it('stops trying samples once its time limit has passed, and says so', async () => {
    // A clock that moves a second each time it is read: the limit has passed at the third reading.
    let ms = 0;
    const result = await dryRunRules(
      {
        repo: noStore,
        defaultAction: 'review',
        timeLimit: { ms: RULES_DRY_RUN_TIME_LIMIT_MS, now: () => (ms += 1000) },
      },
      { rules: RULES, samples },
    );
    expect(result).toMatchObject({ valid: true, complete: false, samplesFrom: 'request' });
    expect(result.outcomes.map((outcome) => outcome.sample)).toEqual([0, 1]);
    expect(result.sampleProblems).toEqual([
      {
        sample: 2,
        message: `was not tried, nor the 2 after it: the dry run stopped at its time limit of ${RULES_DRY_RUN_TIME_LIMIT_MS} ms`,
      },
    ]);
  });

  it('tries every sample when they fit in the time limit', async () => {
    const result = await dryRunRules(
      {
        repo: noStore,
        defaultAction: 'review',
        timeLimit: { ms: RULES_DRY_RUN_TIME_LIMIT_MS, now: () => performance.now() },
      },
      { rules: RULES, samples },
    );
    expect(result).toMatchObject({ valid: true, complete: true });
    expect(result.outcomes).toHaveLength(samples.length);
  });
});
