// One vitest set-up for every workspace: unit tests beside the code, component tests per service,
// end-to-end tests in test/. Real Redis and a MongoDB-wire server come from the global set-up.
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    globals: false,
    include: [
      'libs/*/src/**/*.test.ts',
      'libs/*/test/**/*.test.ts',
      'services/*/src/**/*.test.ts',
      'services/*/test/**/*.test.ts',
      'test/**/*.test.ts',
    ],
    exclude: ['**/node_modules/**'],
    globalSetup: ['test/support/src/global-setup.ts'],
    testTimeout: 30_000,
    // Integration tests wait for workers; under a loaded CI machine the 1 s default is too short.
    expect: { poll: { timeout: 10_000, interval: 50 } },
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: ['default', './test/support/src/summary-reporter.ts'],
  },
});
