// npm "install" script: makes sure a loadable addon is there, compiling it only when needed (a shipped prebuild
// that loads, else an existing build/Release that loads, else cmake-js offline); see installAddon() in
// @fdloop/native-build. Prints one line saying which path it took.

import console from 'node:console';
import process from 'node:process';

import { installAddon } from '@fdloop/native-build';

import { NAME, addon } from './cmake-js.mjs';

if (process.platform !== 'linux') {
  // Not an error: a monorepo checkout on another platform must still install. open() explains the platform
  // problem if it is ever called.
  console.log(`${NAME}: the serial addon is built on Linux only, not on ${process.platform}; nothing to build.`);
} else {
  installAddon(addon);
}
