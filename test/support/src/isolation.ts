// Per-test-file isolation: a unique BullMQ prefix and MongoDB database name for each file.
import { randomBytes } from 'node:crypto';

/** Names that keep one test file's data apart from every other file's and every other run's. */
export interface TestNamespace {
  /** BullMQ key prefix, e.g. `t-3f9a1c2b`. */
  readonly queuePrefix: string;
  /** MongoDB database name, e.g. `t_3f9a1c2b`. */
  readonly dbName: string;
}

export function createTestNamespace(label = 't'): TestNamespace {
  const suffix = randomBytes(4).toString('hex');
  const safe = label.replace(/[^a-z0-9]/gi, '').slice(0, 20) || 't';
  return { queuePrefix: `${safe}-${suffix}`, dbName: `${safe}_${suffix}` };
}
