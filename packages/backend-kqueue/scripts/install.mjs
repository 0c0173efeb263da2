// npm "install" script. On macOS and FreeBSD: compile the addon with cmake-js unless a loadable build is already
// there (`npm run build` rebuilds it incrementally). Elsewhere: nothing to build, and not an error, so that a
// checkout of the monorepo installs on Linux; kqueue() explains the platform if it is ever called there.

import console from 'node:console';
import { existsSync } from 'node:fs';
import process from 'node:process';

import { KQUEUE_PLATFORMS, addonPath, buildNative } from './cmake-js.mjs';

if (!KQUEUE_PLATFORMS.includes(process.platform)) {
  console.log(`@fdloop/backend-kqueue: kqueue exists on macOS and FreeBSD, not on ${process.platform}; nothing to build.`);
} else if (existsSync(addonPath)) {
  console.log('@fdloop/backend-kqueue: using the existing build in build/Release; not compiling.');
} else {
  buildNative('compiling the native addon from source');
}
