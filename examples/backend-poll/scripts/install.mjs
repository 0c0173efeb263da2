// npm "install" script: compiles the addon when it is not there yet, so both a fresh clone of the monorepo and an
// install from the package's own tarball work with no manual step. An existing build (or a prebuilt binary for
// this platform) is left alone; `npm run build` rebuilds incrementally. Nothing is downloaded (see cmake-js.mjs).

import console from 'node:console';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';

import { addonPath, buildNative, packageRoot } from './cmake-js.mjs';

const prebuilt = join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`, 'fdloop_poll.node');

if (process.platform === 'win32') {
  // Not an error: a monorepo checkout on Windows must still install. poll() explains the platform problem if it is
  // ever called.
  console.log('@fdloop/backend-poll: poll(2) and pthreads are POSIX-only; nothing to build on Windows.');
} else if (!existsSync(addonPath) && !existsSync(prebuilt)) {
  buildNative('building the native addon');
}
