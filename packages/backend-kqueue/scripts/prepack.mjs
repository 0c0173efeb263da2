// Copies the POSIX sources shared with @fdloop/backend-epoll (../backend-epoll/native/posix) into
// <package>/native/shared/posix, so that the tarball compiles on its own; CMakeLists.txt uses the copy when it
// exists. Run as npm's "prepack" (target: this package; scripts/postpack.mjs removes the copy afterwards, so the
// repository keeps building from the single original) and as "pack:stage" with a staged copy of the package as
// argument (for release tooling that packs with --ignore-scripts).
//
//   node scripts/prepack.mjs [packageDir]

import console from 'node:console';
import { cpSync, existsSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import process from 'node:process';

import { packageRoot } from './cmake-js.mjs';

const source = join(packageRoot, '..', 'backend-epoll', 'native', 'posix');
const targetRoot = resolve(process.argv[2] ?? packageRoot);
const target = join(targetRoot, 'native', 'shared', 'posix');

if (!existsSync(join(source, 'poller_base.h'))) {
  if (existsSync(join(target, 'poller_base.h'))) {
    // Packing an unpacked tarball again: the copy is all there is.
    console.log('@fdloop/backend-kqueue prepack: no ../backend-epoll here; keeping native/shared/posix as it is.');
    process.exit(0);
  }
  console.error(`@fdloop/backend-kqueue prepack: the shared POSIX sources are missing (${source})`);
  process.exit(1);
}
if (!existsSync(join(targetRoot, 'CMakeLists.txt'))) {
  console.error(`@fdloop/backend-kqueue prepack: ${targetRoot} is not a copy of this package (no CMakeLists.txt)`);
  process.exit(1);
}
rmSync(target, { recursive: true, force: true });
cpSync(source, target, { recursive: true, filter: (path) => !/\.(o|obj)$/.test(path) });
console.log(`@fdloop/backend-kqueue prepack: copied ${readdirSync(target).length} shared files into ${target}`);
