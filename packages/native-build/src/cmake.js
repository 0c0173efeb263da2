// Runs cmake-js for an addon package without ever downloading anything: Node's C headers are taken from a local
// directory, and node-addon-api and cmake-js from the package's own node_modules.
//
// cmake-js reads the headers' location from npm's `nodedir` setting (npm_config_nodedir); when that names a
// directory holding include/node/node.h it skips its download. We make sure it always does, by passing the
// directory we found explicitly in the child's environment.

import { spawnSync } from 'node:child_process';
import console from 'node:console';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

/**
 * The directory of this package's CMake module (`cmake/FdloopAddon.cmake`, providing `fdloop_addon()`), which
 * {@link buildAddon} passes to CMake as `FDLOOP_NATIVE_BUILD_CMAKE_DIR`.
 */
export const CMAKE_MODULE_DIR = fileURLToPath(new URL('../cmake', import.meta.url));

/** The headers {@link buildAddon} requires by default under `include/node`. */
export const DEFAULT_HEADERS = Object.freeze(['node.h', 'node_api.h', 'uv.h']);

/**
 * The directory whose `include/node` holds Node's C headers: npm's `nodedir` if set (npm passes it as
 * `npm_config_nodedir`), else the prefix Node itself is installed in (`<prefix>/bin/node` with headers in
 * `<prefix>/include/node`, as in the official binaries and distribution packages).
 * @param {readonly string[]} [headers] the files that must exist in `include/node`; default {@link DEFAULT_HEADERS}
 * @param {string} [name] the package to name in the `npm rebuild` advice; default `'<package>'`
 * @returns {string} the directory
 * @throws {Error} naming the directories tried and how to point npm at the headers
 */
export function findNodeDir(headers = DEFAULT_HEADERS, name = '<package>') {
  const tried = [];
  for (const candidate of [process.env.npm_config_nodedir, resolve(dirname(process.execPath), '..')]) {
    if (!candidate) continue;
    const dir = resolve(candidate);
    if (headers.every((header) => existsSync(join(dir, 'include', 'node', header)))) return dir;
    tried.push(dir);
  }
  throw new Error(
    `Node's C headers (include/node/${headers.join(', ')}) were not found in: ${tried.join(', ')}.\n` +
      'Point npm at a directory containing include/node, e.g. `npm install --nodedir=/usr` or ' +
      `\`npm_config_nodedir=/path/to/node npm rebuild ${name}\`, or install the Node.js development headers of ` +
      'your distribution.',
  );
}

/**
 * @typedef {object} BuildAddonOptions Options of {@link buildAddon}.
 * @property {string} packageRoot the addon package's directory: cmake-js and node-addon-api are resolved from it
 *   (they are its dependencies), and it is the default source directory
 * @property {string} name the npm package name, printed before every message
 * @property {string} addon the addon's file name (e.g. `'fdloop_epoll.node'`)
 * @property {string} why shown before the build starts (e.g. `'building the native addon (incremental)'`)
 * @property {string} [directory] the source directory holding CMakeLists.txt; default `packageRoot`
 * @property {string} [out] the build directory; default `<directory>/build`. The addon lands in
 *   `<out>/Release/<addon>`
 * @property {Readonly<Record<string, string>>} [defines] extra cache variables, passed as `--CD<key>=<value>`;
 *   default none
 * @property {readonly string[]} [headers] Node headers the build needs; default {@link DEFAULT_HEADERS}
 * @property {string} [needs] what the build needs, for the failure message; default
 *   `'cmake >= 3.15, a C++17 compiler (g++ or clang++) and make or ninja'`
 * @property {boolean} [exit] `true` (the default, for scripts): print the failure with `npm rebuild` advice and
 *   exit the process with status 1; `false`: throw instead
 */

/**
 * Configures (if the build directory has not been configured yet) and builds the addon with cmake-js in the
 * Release configuration, incrementally, offline (see {@link findNodeDir}). CMake gets `NODE_ADDON_API_DIR` (resolved
 * from `packageRoot`) and `FDLOOP_NATIVE_BUILD_CMAKE_DIR` ({@link CMAKE_MODULE_DIR}). Prints
 * `<name>: <why> (Node headers from <dir>)` first.
 * @param {BuildAddonOptions} options
 * @returns {string} the path of the built addon
 * @throws {Error} only with `exit: false`, when anything fails
 * @example
 * ```js
 * // scripts/build-native.mjs of an addon package
 * import { buildAddon } from '@fdloop/native-build';
 *
 * buildAddon({
 *   packageRoot: new URL('..', import.meta.url).pathname,
 *   name: '@me/my-addon',
 *   addon: 'my_addon.node',
 *   why: 'building the native addon (incremental)',
 * });
 * ```
 */
export function buildAddon(options) {
  const { name, addon, why } = options;
  const packageRoot = resolve(options.packageRoot);
  const directory = resolve(options.directory ?? packageRoot);
  const out = resolve(options.out ?? join(directory, 'build'));
  const built = join(out, 'Release', addon);
  try {
    const nodeDir = findNodeDir(options.headers ?? DEFAULT_HEADERS, name);
    const require = createRequire(join(packageRoot, 'package.json'));
    const cmakeJs = join(dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
    const addonApiDir = dirname(require.resolve('node-addon-api/package.json'));
    console.log(`${name}: ${why} (Node headers from ${nodeDir})`);
    const args = [
      cmakeJs,
      'build',
      '--log-level',
      'warn',
      '--directory',
      directory,
      '--out',
      out,
      '--config',
      'Release',
      '--parallel',
      String(availableParallelism()),
      `--CDNODE_ADDON_API_DIR=${addonApiDir}`,
      `--CDFDLOOP_NATIVE_BUILD_CMAKE_DIR=${CMAKE_MODULE_DIR}`,
      ...Object.entries(options.defines ?? {}).map(([key, value]) => `--CD${key}=${value}`),
    ];
    const result = spawnSync(process.execPath, args, {
      cwd: directory,
      stdio: 'inherit',
      env: { ...process.env, npm_config_nodedir: nodeDir },
    });
    if (result.error) throw result.error;
    if (result.status !== 0) {
      throw new Error(
        `cmake-js exited with ${result.signal ?? `code ${result.status}`}. It needs ` +
          `${options.needs ?? 'cmake >= 3.15, a C++17 compiler (g++ or clang++) and make or ninja'}.`,
      );
    }
    if (!existsSync(built)) throw new Error(`the build finished but ${built} is missing`);
    return built;
  } catch (error) {
    const message = `${name}: building the native addon failed: ${error instanceof Error ? error.message : error}`;
    if (options.exit === false) throw new Error(message, { cause: error });
    console.error(`${message}\nAfter fixing the cause, run \`npm rebuild ${name}\`.`);
    process.exit(1);
  }
}
