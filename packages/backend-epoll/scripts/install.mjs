// npm "install" script: compiles the addon when it is not there yet, so both a fresh clone of the monorepo and an
// install from the registry tarball work with no manual step. An existing build (or a prebuilt binary for this
// platform) is left alone; `npm run build` rebuilds incrementally.

import console from 'node:console';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';

import { addonPath, buildNative, packageRoot } from './cmake-js.mjs';

const prebuilt = join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`, 'fdloop_epoll.node');

if (process.platform !== 'linux') {
  // Not an error: a monorepo checkout on another platform must still install. epoll() explains the platform
  // problem if it is ever called.
  console.log(`@fdloop/backend-epoll: epoll exists on Linux only, not on ${process.platform}; nothing to build.`);
} else if (!existsSync(addonPath) && !existsSync(prebuilt)) {
  buildNative('building the native addon');
}
