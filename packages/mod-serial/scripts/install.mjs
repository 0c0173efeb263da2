// npm "install" script: makes sure a loadable addon is there, compiling it only when needed, so a fresh clone of
// the monorepo, an install of the registry tarball (which carries a prebuilt linux-x64 binary) and an install on
// any other Linux all work with no manual step. Prints one line saying which path it took:
//
// 1. prebuilds/<platform>-<arch>/fdloop_serial.node ships with the package and loads (checked in a child process,
//    since a binary built against a newer glibc, or for musl, fails in dlopen): nothing to compile.
// 2. build/Release/fdloop_serial.node exists and loads (an earlier install, or `npm run build` in the monorepo):
//    nothing to compile; `npm run build` rebuilds it incrementally.
// 3. Otherwise: compile from source with cmake-js, offline, against Node's local headers (see cmake-js.mjs).
//
// src/native.ts loads the prebuilt binary first and falls back to build/Release, the same order as here.

import console from 'node:console';
import { existsSync } from 'node:fs';
import { relative } from 'node:path';
import process from 'node:process';

import { addonPath, buildNative, checkAddon, packageRoot, prebuiltPath } from './cmake-js.mjs';

const NAME = '@fdloop/mod-serial';
const target = `${process.platform}-${process.arch}`;
const rel = (file) => relative(packageRoot, file);

if (process.platform !== 'linux') {
  // Not an error: a monorepo checkout on another platform must still install. open() explains the platform
  // problem if it is ever called.
  console.log(`${NAME}: the serial addon is built on Linux only, not on ${process.platform}; nothing to build.`);
} else {
  let why;
  const prebuilt = existsSync(prebuiltPath) ? checkAddon(prebuiltPath) : undefined;
  if (prebuilt?.ok) {
    console.log(`${NAME}: using the prebuilt binary ${rel(prebuiltPath)}; not compiling.`);
  } else {
    why = prebuilt
      ? `the prebuilt binary ${rel(prebuiltPath)} does not load here (${prebuilt.reason})`
      : `no prebuilt binary for ${target}`;
    const existing = existsSync(addonPath) ? checkAddon(addonPath) : undefined;
    if (existing?.ok) {
      console.log(`${NAME}: using the existing build ${rel(addonPath)}; not compiling (${why}).`);
    } else {
      if (existing) why += `; the existing ${rel(addonPath)} does not load either (${existing.reason})`;
      buildNative(`compiling the native addon from source: ${why}`);
      const built = checkAddon(addonPath);
      if (!built.ok) {
        console.error(`${NAME}: the freshly built ${rel(addonPath)} does not load: ${built.reason}`);
        process.exit(1);
      }
    }
  }
}
