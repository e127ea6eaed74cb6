import os from 'node:os';
import { defineConfig } from 'vitest/config';

/**
 * Three tiers: unit tests sit next to the code (src/**), integration tests
 * talk to Azurite and PostgreSQL (packages/<pkg>/test/**), end-to-end tests
 * drive the local host with the bundled samples (test/e2e/**); browser tests
 * drive the built review app in Chromium against the local host (test/browser/**).
 */
export default defineConfig({
  test: {
    // Vitest's default is one worker fewer than the cores: one worker on the 2-core CI machine, where
    // most integration files spend their time waiting on Azurite, PGlite start-up and child processes.
    // Two workers there took the unit and integration tiers from 1300 s to 720 s, all green (2026-12-04).
    maxWorkers: Math.max(2, os.availableParallelism() - 1),
    projects: [
      {
        test: {
          name: 'unit',
          include: ['packages/*/src/**/*.test.ts', 'functions/src/**/*.test.ts', 'test/unit/**/*.test.ts', 'test/consistency/**/*.test.ts', 'test/validate/**/*.test.ts', 'test/corpus/**/*.test.ts', 'test/bench/**/*.test.ts'],
          testTimeout: 20_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['packages/*/test/**/*.test.ts', 'functions/test/**/*.test.ts'],
          globalSetup: ['test/support/azurite.global-setup.ts'],
          testTimeout: 60_000,
          hookTimeout: 60_000,
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 300_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
      {
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          globalSetup: ['test/support/web-build.global-setup.ts'],
          // A page settles in a few requests; on a busy machine that is more than expect.poll's default second.
          expect: { poll: { timeout: 20_000, interval: 100 } },
          testTimeout: 120_000,
          hookTimeout: 300_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
