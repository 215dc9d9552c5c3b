import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // End-to-end tests start SSH servers and child processes; two cores are shared.
    pool: 'forks',
    maxWorkers: 2,
  },
});
