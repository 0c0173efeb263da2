// The npm "install" step of an addon package: make sure a loadable addon is there, compiling only when needed.

import console from 'node:console';
import { existsSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import process from 'node:process';

import { checkAddon } from './check.js';
import { buildAddon } from './cmake.js';
import { platformTarget } from './loader.js';

/**
 * @typedef {object} InstallAddonOptions Options of {@link installAddon}.
 * @property {string} packageRoot the addon package's directory (holding CMakeLists.txt, and prebuilds/ if shipped)
 * @property {string} name the npm package name, printed before every message
 * @property {string} addon the addon's file name (e.g. `'fdloop_epoll.node'`)
 * @property {import('./check.js').AddonExports} [expect] exports a working addon has (see
 *   {@link checkAddon}); default `{}`
 * @property {Omit<import('./cmake.js').BuildAddonOptions, 'packageRoot' | 'name' | 'addon' | 'why' | 'exit'>} [build]
 *   extra options for the compile ({@link buildAddon}); default none
 * @property {boolean} [exit] `true` (the default, for scripts): a failure prints a message and exits with status 1;
 *   `false`: it throws
 */

/**
 * @typedef {'prebuilt' | 'existing' | 'compiled'} InstallOutcome The path {@link installAddon} took: `'prebuilt'`
 *   (the shipped prebuild loads), `'existing'` (an earlier build in `build/Release` loads) or `'compiled'`.
 */

/**
 * The npm `install` step: prints one line saying which path it took.
 *
 * 1. `prebuilds/<platform>-<arch>/<addon>` ships with the package and loads (checked in a child process, since a
 *    binary built against a newer glibc, or for musl, fails in dlopen): nothing to compile.
 * 2. `build/Release/<addon>` exists and loads (an earlier install, or a build in a monorepo): nothing to compile.
 * 3. Otherwise: compile from source with cmake-js, offline, against Node's local headers ({@link buildAddon}), and
 *    check that the result loads.
 *
 * The order is the one {@link loadAddon} uses at run time.
 * @param {InstallAddonOptions} options
 * @returns {InstallOutcome} the path taken
 * @throws {Error} only with `exit: false`, when compiling fails or the fresh build does not load
 * @example
 * ```js
 * // scripts/install.mjs of an addon package ("install": "node scripts/install.mjs" in package.json)
 * import { installAddon } from '@fdloop/native-build';
 *
 * installAddon({ packageRoot: new URL('..', import.meta.url).pathname, name: '@me/my-addon', addon: 'my_addon.node' });
 * ```
 */
export function installAddon(options) {
  const { name, addon, expect = {} } = options;
  const packageRoot = resolve(options.packageRoot);
  const prebuiltPath = join(packageRoot, 'prebuilds', platformTarget(), addon);
  const addonPath = join(packageRoot, 'build', 'Release', addon);
  const rel = (/** @type {string} */ file) => relative(packageRoot, file);

  const prebuilt = existsSync(prebuiltPath) ? checkAddon(prebuiltPath, expect) : undefined;
  if (prebuilt?.ok) {
    console.log(`${name}: using the prebuilt binary ${rel(prebuiltPath)}; not compiling.`);
    return 'prebuilt';
  }
  let why = prebuilt
    ? `the prebuilt binary ${rel(prebuiltPath)} does not load here (${prebuilt.reason})`
    : `no prebuilt binary for ${platformTarget()}`;
  const existing = existsSync(addonPath) ? checkAddon(addonPath, expect) : undefined;
  if (existing?.ok) {
    console.log(`${name}: using the existing build ${rel(addonPath)}; not compiling (${why}).`);
    return 'existing';
  }
  if (existing) why += `; the existing ${rel(addonPath)} does not load either (${existing.reason})`;
  buildAddon({
    ...options.build,
    packageRoot,
    name,
    addon,
    why: `compiling the native addon from source: ${why}`,
    exit: options.exit,
  });
  const built = checkAddon(addonPath, expect);
  if (!built.ok) {
    const message = `${name}: the freshly built ${rel(addonPath)} does not load: ${built.reason}`;
    if (options.exit === false) throw new Error(message);
    console.error(message);
    process.exit(1);
  }
  return 'compiled';
}
