// `npm test` (run by nx on every host). On Windows: vitest. On Linux: this package's tests need Windows, so they
// run under Wine in scripts/ci-wine.sh (a separate CI step that installs Wine and mingw-w64); here we say so and
// run nothing — unless FDLOOP_IOCP_WINE=1, which runs that script now.
import { spawnSync } from 'node:child_process';
import console from 'node:console';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { packageRoot } from './native.mjs';

function exec(command, args) {
  const result = spawnSync(command, args, { cwd: packageRoot, stdio: 'inherit' });
  if (result.error) throw result.error;
  process.exit(result.status ?? 1);
}

if (process.platform === 'win32') {
  const vitest = dirname(createRequire(join(packageRoot, 'package.json')).resolve('vitest/package.json'));
  exec(process.execPath, [join(vitest, 'vitest.mjs'), 'run']);
} else if (process.env.FDLOOP_IOCP_WINE === '1') {
  exec('bash', [join(packageRoot, 'scripts', 'ci-wine.sh')]);
} else {
  console.log(
    `@fdloop/backend-iocp: no tests run on ${process.platform}: this backend is Windows-only. Its suite (the core ` +
      'conformance suite and the backend tests) runs under Wine in packages/backend-iocp/scripts/ci-wine.sh, a ' +
      'separate CI step; set FDLOOP_IOCP_WINE=1 to run it from npm test.',
  );
}
