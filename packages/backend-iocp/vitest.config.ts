import { defineConfig } from 'vitest/config';

// Used on Windows (`npm test`). Under Wine, scripts/wine-vitest.mjs passes the same settings inline, because
// this file's `vitest/config` import would resolve to the Linux install of vitest.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    pool: 'forks',
  },
});
