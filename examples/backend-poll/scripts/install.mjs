// npm "install" script: makes sure a loadable addon is there, compiling it only when needed (a prebuild for this
// platform that loads, else an existing build/Release that loads, else cmake-js offline against Node's local
// headers); see installAddon() in @fdloop/native-build. `npm run build` rebuilds incrementally.

import console from 'node:console';
import process from 'node:process';

import { installAddon } from '@fdloop/native-build';

import { NAME, addon } from './cmake-js.mjs';

if (process.platform === 'win32') {
  // Not an error: a monorepo checkout on Windows must still install. poll() explains the platform problem if it is
  // ever called.
  console.log(`${NAME}: poll(2) and pthreads are POSIX-only; nothing to build on Windows.`);
} else {
  installAddon(addon);
}
