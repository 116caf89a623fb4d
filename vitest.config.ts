// One vitest set-up for every workspace, in three projects that together run every test file once:
// - `unit`: tests that need no server (`npm run test:unit`, seconds): every test beside the code
//   (`src/`), and the pure tests listed below. No global set-up; `inject()` throws there.
// - `integration`: the component tests of each package and service (`libs/*/test`,
//   `services/*/test`, `test/support/test`). Real Redis and a MongoDB-wire server come from the
//   global set-up.
// - `system`: the end-to-end, deployment and fault tests (`test/e2e`, `test/deploy`, `test/faults`),
//   which start every service, build images or stall and kill servers, with the same global set-up.
// `npm test` runs all three: first `unit` and `integration` side by side, two files at a time
// (they wait on sockets and timers more than they compute), then `system`, one file at a time
// (each takes the machine: its judgements of stalls and hold windows assume it has the cores).
// The options outside `projects` apply to all three.
import { existsSync } from 'node:fs';
import { defineConfig } from 'vitest/config';

const EVERY_TEST = [
  'libs/*/src/**/*.test.ts',
  'libs/*/test/**/*.test.ts',
  'services/*/src/**/*.test.ts',
  'services/*/test/**/*.test.ts',
  'test/**/*.test.ts',
];

// Tests beside the code must stay pure; a test that needs a server lives in the package's test/.
const BESIDE_THE_CODE = ['libs/*/src/**/*.test.ts', 'services/*/src/**/*.test.ts'];

// Pure tests kept in a test/ folder: they open no socket, start no process and call no inject().
const PURE_IN_TEST_FOLDERS = [
  'libs/connection-store/test/memory-store-contract.test.ts',
  'libs/contracts/test/activate-request.test.ts',
  'libs/contracts/test/contracts.test.ts',
  'libs/service-kit/test/config-loader.test.ts',
  'libs/service-kit/test/logger.test.ts',
  'libs/service-kit/test/production-guard.test.ts',
  'libs/service-kit/test/redis-connection.test.ts',
  'libs/service-kit/test/retry-policy.test.ts',
  'services/ingress/test/redis-config.test.ts',
];
// A renamed or moved file would otherwise leave the unit project without a word.
const missing = PURE_IN_TEST_FOLDERS.filter((file) => !existsSync(new URL(file, import.meta.url)));
if (missing.length > 0) {
  throw new Error(`vitest.config.ts lists unit tests that do not exist: ${missing.join(', ')}`);
}

const UNIT = [...BESIDE_THE_CODE, ...PURE_IN_TEST_FOLDERS];
const SYSTEM = ['test/e2e/**/*.test.ts', 'test/deploy/**/*.test.ts', 'test/faults/**/*.test.ts'];
const EXCLUDE = ['**/node_modules/**'];

export default defineConfig({
  test: {
    globals: false,
    testTimeout: 30_000,
    // Integration tests wait for workers; under a loaded CI machine the 1 s default is too short.
    expect: { poll: { timeout: 10_000, interval: 50 } },
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', './test/support/src/summary-reporter.ts'],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: UNIT,
          exclude: EXCLUDE,
          setupFiles: ['test/support/src/unit-setup.ts'],
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: EVERY_TEST,
          exclude: [...EXCLUDE, ...UNIT, ...SYSTEM],
          globalSetup: ['test/support/src/global-setup.ts'],
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: 'system',
          include: SYSTEM,
          exclude: EXCLUDE,
          globalSetup: ['test/support/src/global-setup.ts'],
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
