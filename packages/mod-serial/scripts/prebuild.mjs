// Release step (not shipped, not run by npm install): builds a clean, stripped Release binary of the addon and
// puts it at <dir>/prebuilds/<platform>-<arch>/fdloop_serial.node, where src/native.ts and scripts/install.mjs look
// for it.
//
//   node scripts/prebuild.mjs <dir>        # or: npm run pack:prebuild -w @fdloop/mod-serial -- <dir>
//
// <dir> is a staged copy of this package (scripts/pack.mjs at the repository root makes one per package from the
// `npm pack` file list), and the addon is compiled from that copy's sources, so the binary matches exactly what
// the tarball ships. It is never written into this workspace package: a prebuilds/ folder here would shadow the
// local development build in build/Release (src/native.ts tries prebuilds/ first).
//
// The binary is built in a fresh temporary build directory (no stale objects, Release configuration), stripped
// of symbols with `strip --strip-unneeded`, and checked to load in a child process. It requires the glibc (and
// libstdc++) symbol versions it was linked against, printed at the end: build releases on the oldest distribution
// you want the prebuild to cover; anything older (or musl) falls back to compiling at install time.

import { spawnSync } from 'node:child_process';
import console from 'node:console';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import process from 'node:process';

import { ADDON, buildNative, checkAddon, packageRoot } from './cmake-js.mjs';

function fail(message) {
  console.error(`prebuild: ${message}`);
  process.exit(1);
}

const [dirArg] = process.argv.slice(2);
if (!dirArg) fail('usage: node scripts/prebuild.mjs <staged package directory>');
const dir = resolve(dirArg);
if (dir === packageRoot) {
  fail(`refusing to write prebuilds/ into the workspace package ${packageRoot}: it would shadow build/Release`);
}
if (!existsSync(join(dir, 'CMakeLists.txt')) || !existsSync(join(dir, 'native'))) {
  fail(`${dir} is not a copy of @fdloop/mod-serial (CMakeLists.txt and native/ are missing)`);
}
if (process.platform !== 'linux') fail(`prebuilds are made on Linux only, not on ${process.platform}`);

const target = `${process.platform}-${process.arch}`;
const dest = join(dir, 'prebuilds', target, ADDON);
const out = mkdtempSync(join(tmpdir(), 'fdloop-prebuild-'));
try {
  const started = performance.now();
  const built = buildNative(`building the ${target} prebuild from ${dir}`, { directory: dir, out });
  const cache = readFileSync(join(out, 'CMakeCache.txt'), 'utf8');
  if (!/^CMAKE_BUILD_TYPE:STRING=Release$/m.test(cache)) fail('the build directory is not configured for Release');

  mkdirSync(join(dir, 'prebuilds', target), { recursive: true });
  const strip = spawnSync('strip', ['--strip-unneeded', '-o', dest, built], { stdio: 'inherit' });
  if (strip.error || strip.status !== 0) {
    fail(`strip failed (${strip.error?.message ?? `exit ${strip.status}`}); it comes with binutils (apt-get install binutils)`);
  }
  const loaded = checkAddon(dest);
  if (!loaded.ok) fail(`the stripped prebuild does not load: ${loaded.reason}`);

  // The newest symbol versions it needs from glibc and libstdc++ (objdump is in binutils, like strip).
  const dump = spawnSync('objdump', ['-T', dest], { encoding: 'utf8' });
  const newest = (prefix) =>
    [...new Set(dump.stdout?.match(new RegExp(`\\b${prefix}_[0-9.]+`, 'g')) ?? [])]
      .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
      .pop() ?? '?';
  const kb = (file) => `${(statSync(file).size / 1024).toFixed(0)} kB`;
  console.log(
    `prebuild: ${relative(dir, dest)}: ${kb(built)} -> ${kb(dest)} stripped; needs ${newest('GLIBC')}, ` +
      `${newest('GLIBCXX')}, ${newest('CXXABI')}; loads OK (${((performance.now() - started) / 1000).toFixed(1)} s)`,
  );
} finally {
  rmSync(out, { recursive: true, force: true });
}
