// Runs this package's vitest suite inside a Windows node.exe (under Wine in CI, see ci-wine.sh; it works on a real
// Windows machine too). vitest and its native dependencies (rolldown, lightningcss) come from a Windows install
// in FDLOOP_WINE_VITEST (ci-wine.sh makes one with `npm install --os=win32 --cpu=x64 vitest@<the repo's version>`),
// not from the repository's Linux node_modules. The settings are those of vitest.config.ts, passed inline with
// `config: false`, because that file's own `vitest/config` import would resolve to the Linux install. Test files
// importing 'vitest' are pointed at the same Windows install by an alias, so there is one vitest instance.
//
//   node.exe scripts/wine-vitest.mjs [test-file-filter…]
import console from 'node:console';
import { dirname, join, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath, pathToFileURL } from 'node:url';

const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const vitestDir = process.env.FDLOOP_WINE_VITEST;
if (!vitestDir) {
  console.error('wine-vitest: set FDLOOP_WINE_VITEST to the node_modules/vitest directory of a Windows install');
  process.exit(2);
}

const { startVitest } = await import(pathToFileURL(join(vitestDir, 'dist', 'node.js')).href);
const ctx = await startVitest(
  'test',
  process.argv.slice(2),
  {
    config: false,
    root: packageRoot,
    include: ['test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    watch: false,
    // One file at a time: Wine runs every node.exe in one wineserver, and parallel forks only add contention.
    fileParallelism: false,
    // ci-wine.sh totals the runs from this JSON report (FDLOOP_WINE_JSON), next to the usual console output.
    reporters: process.env.FDLOOP_WINE_JSON ? ['default', ['json', { outputFile: process.env.FDLOOP_WINE_JSON }]] : ['default'],
  },
  {
    resolve: { alias: { vitest: join(vitestDir, 'dist', 'index.js') } },
  },
);
const failed = ctx === undefined || ctx.state.getCountOfFailedTests() > 0 || process.exitCode;
await ctx?.close();
process.exit(failed ? 1 : 0);
