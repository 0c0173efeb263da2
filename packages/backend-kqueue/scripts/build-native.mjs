// The native half of `npm run build`: the real addon on macOS and FreeBSD (incremental). On Linux there is no
// kqueue; the emulated test build is made by the tests (test/global-setup.ts, or scripts/build-emulated.mjs).

import console from 'node:console';
import process from 'node:process';

import { KQUEUE_PLATFORMS, buildNative } from './cmake-js.mjs';

if (KQUEUE_PLATFORMS.includes(process.platform)) {
  buildNative('building the native addon (incremental)');
} else {
  console.log(
    `@fdloop/backend-kqueue: no kqueue on ${process.platform}; skipping the native build ` +
      '(the tests build the emulated one: node scripts/build-emulated.mjs).',
  );
}
