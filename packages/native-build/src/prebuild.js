// The release step: a clean, stripped Release binary in prebuilds/<platform>-<arch>/ of a staged package copy.

import { spawnSync } from 'node:child_process';
import console from 'node:console';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import process from 'node:process';

import { checkAddon } from './check.js';
import { buildAddon } from './cmake.js';
import { platformTarget } from './loader.js';

/**
 * @typedef {object} PrebuildAddonOptions Options of {@link prebuildAddon}.
 * @property {string} packageRoot the workspace package (cmake-js and node-addon-api are resolved from it); never
 *   written to
 * @property {string} stage the staged copy of the package to compile and to put `prebuilds/` into
 * @property {string} name the npm package name, for messages
 * @property {string} addon the addon's file name (e.g. `'fdloop_epoll.node'`)
 * @property {import('./check.js').AddonExports} [expect] exports a working addon has; default `{}`
 * @property {Readonly<Record<string, string>>} [defines] extra cmake cache variables; default none
 * @property {readonly string[]} [platforms] platforms prebuilds are made on (`strip` and `objdump` of binutils are
 *   used); default `['linux']`
 */

/**
 * Builds `<stage>/prebuilds/<platform>-<arch>/<addon>`: compiled from the staged copy's sources in a fresh
 * temporary build directory (Release, no stale objects), stripped with `strip --strip-unneeded`, checked to load
 * in a child process. Prints its size and the newest GLIBC / GLIBCXX / CXXABI symbol versions it needs (build
 * releases on the oldest distribution the prebuild should cover). Refuses to write into `packageRoot` itself: a
 * `prebuilds/` folder there would shadow the development build in `build/Release`.
 * @param {PrebuildAddonOptions} options
 * @returns {string} the path of the prebuild
 * @throws {Error} when anything fails (the message starts with `prebuild:`)
 * @example
 * ```js
 * // scripts/prebuild.mjs <stage>
 * import { prebuildAddon } from '@fdloop/native-build';
 *
 * prebuildAddon({ packageRoot: new URL('..', import.meta.url).pathname, stage: process.argv[2], name: '@me/my-addon', addon: 'my_addon.node' });
 * ```
 */
export function prebuildAddon(options) {
  const { name, addon, expect = {} } = options;
  const packageRoot = resolve(options.packageRoot);
  const fail = (/** @type {string} */ message) => {
    throw new Error(`prebuild: ${message}`);
  };
  const dir = resolve(options.stage);
  if (dir === packageRoot) {
    fail(`refusing to write prebuilds/ into the workspace package ${packageRoot}: it would shadow build/Release`);
  }
  if (!existsSync(join(dir, 'CMakeLists.txt')) || !existsSync(join(dir, 'native'))) {
    fail(`${dir} is not a copy of ${name} (CMakeLists.txt and native/ are missing)`);
  }
  const platforms = options.platforms ?? ['linux'];
  if (!platforms.includes(process.platform)) {
    fail(`prebuilds are made on ${platforms.join(', ')} only, not on ${process.platform}`);
  }

  const target = platformTarget();
  const dest = join(dir, 'prebuilds', target, addon);
  const out = mkdtempSync(join(tmpdir(), 'fdloop-prebuild-'));
  try {
    const started = performance.now();
    const built = buildAddon({
      packageRoot,
      name,
      addon,
      why: `building the ${target} prebuild from ${dir}`,
      directory: dir,
      out,
      defines: options.defines ?? {},
      exit: false,
    });
    const cache = readFileSync(join(out, 'CMakeCache.txt'), 'utf8');
    if (!/^CMAKE_BUILD_TYPE:STRING=Release$/m.test(cache)) fail('the build directory is not configured for Release');

    mkdirSync(join(dir, 'prebuilds', target), { recursive: true });
    const strip = spawnSync('strip', ['--strip-unneeded', '-o', dest, built], { stdio: 'inherit' });
    if (strip.error || strip.status !== 0) {
      fail(
        `strip failed (${strip.error?.message ?? `exit ${strip.status}`}); it comes with binutils (apt-get install binutils)`,
      );
    }
    const loaded = checkAddon(dest, expect);
    if (!loaded.ok) fail(`the stripped prebuild does not load: ${loaded.reason}`);

    // The newest symbol versions it needs from glibc and libstdc++ (objdump is in binutils, like strip).
    const dump = spawnSync('objdump', ['-T', dest], { encoding: 'utf8' });
    const newest = (/** @type {string} */ prefix) =>
      [...new Set(dump.stdout?.match(new RegExp(`\\b${prefix}_[0-9.]+`, 'g')) ?? [])]
        .sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
        .pop() ?? '?';
    const kb = (/** @type {string} */ file) => `${(statSync(file).size / 1024).toFixed(0)} kB`;
    console.log(
      `prebuild: ${relative(dir, dest)}: ${kb(built)} -> ${kb(dest)} stripped; needs ${newest('GLIBC')}, ` +
        `${newest('GLIBCXX')}, ${newest('CXXABI')}; loads OK (${((performance.now() - started) / 1000).toFixed(1)} s)`,
    );
    return dest;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/**
 * {@link prebuildAddon} for a script: prints the failure and exits with status 1 instead of throwing.
 * @param {Omit<PrebuildAddonOptions, 'stage'> & { stage: string | undefined }} options `stage` usually comes from
 *   `process.argv[2]`; when it is missing, the usage is printed
 * @returns {string} the path of the prebuild
 */
export function prebuildAddonMain(options) {
  try {
    if (!options.stage) throw new Error('prebuild: usage: node scripts/prebuild.mjs <staged package directory>');
    return prebuildAddon({ ...options, stage: options.stage });
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(1);
  }
}
