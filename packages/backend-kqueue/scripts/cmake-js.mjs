// Runs cmake-js for this package without ever downloading anything: Node's C headers (node_api.h and, for
// uv_poll, uv.h) are taken from a local directory, and node-addon-api from node_modules. cmake-js reads the
// headers' location from npm's `nodedir` setting (npm_config_nodedir); we always pass the directory we found.
//
// Two builds: the real addon (macOS, FreeBSD) in build/Release, and, on Linux for this repository's tests only,
// the addon compiled against the kqueue emulation (-DFDLOOP_KQUEUE_EMULATION=ON) in build/emulated/Release.

import { spawnSync } from 'node:child_process';
import console from 'node:console';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

/** The package root (where CMakeLists.txt lives). */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The addon's file name. */
export const ADDON = 'fdloop_kqueue.node';

/** Where the real build puts the addon, and where src/native.ts loads it from. */
export const addonPath = join(packageRoot, 'build', 'Release', ADDON);

/** Where the emulated (Linux, test-only) build goes. */
export const emulatedOut = join(packageRoot, 'build', 'emulated');

/** The platforms with a kqueue this package builds for. */
export const KQUEUE_PLATFORMS = ['darwin', 'freebsd'];

const require = createRequire(join(packageRoot, 'package.json'));

function hasHeaders(dir) {
  return ['node.h', 'node_api.h', 'uv.h'].every((name) => existsSync(join(dir, 'include', 'node', name)));
}

function findNodeDir() {
  const tried = [];
  for (const candidate of [process.env.npm_config_nodedir, resolve(dirname(process.execPath), '..')]) {
    if (!candidate) continue;
    const dir = resolve(candidate);
    if (hasHeaders(dir)) return dir;
    tried.push(dir);
  }
  throw new Error(
    `Node's C headers (include/node/node.h, node_api.h, uv.h) were not found in: ${tried.join(', ')}.\n` +
      'Point npm at a directory containing include/node, e.g. `npm install --nodedir=/usr/local`.',
  );
}

/**
 * Configures (if needed) and builds the addon in the Release configuration; incremental.
 * @param {string} why shown before the build starts
 * @param {{ emulation?: boolean, out?: string, exit?: boolean }} [options] `emulation`: the Linux test build;
 *   `out`: the build directory (default build/ or build/emulated); `exit` (default true): exit the process on
 *   failure instead of throwing
 * @returns {string} the path of the built addon
 */
export function buildNative(why, options = {}) {
  const emulation = options.emulation === true;
  const out = resolve(options.out ?? (emulation ? emulatedOut : join(packageRoot, 'build')));
  const built = join(out, 'Release', ADDON);
  try {
    const nodeDir = findNodeDir();
    const cmakeJs = join(dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
    const addonApiDir = dirname(require.resolve('node-addon-api/package.json'));
    console.log(`@fdloop/backend-kqueue: ${why}`);
    const args = [
      cmakeJs,
      'build',
      '--log-level',
      'warn',
      '--directory',
      packageRoot,
      '--out',
      out,
      '--config',
      'Release',
      '--parallel',
      String(availableParallelism()),
      `--CDNODE_ADDON_API_DIR=${addonApiDir}`,
      `--CDFDLOOP_KQUEUE_EMULATION=${emulation ? 'ON' : 'OFF'}`,
    ];
    const result = spawnSync(process.execPath, args, {
      cwd: packageRoot,
      stdio: 'inherit',
      env: { ...process.env, npm_config_nodedir: nodeDir },
    });
    if (result.error) throw result.error;
    if (result.status !== 0) {
      throw new Error(
        `cmake-js exited with ${result.signal ?? `code ${result.status}`}. It needs cmake >= 3.15, a C++17 ` +
          'compiler (clang++ or g++) and make or ninja.',
      );
    }
    if (!existsSync(built)) throw new Error(`the build finished but ${built} is missing`);
    return built;
  } catch (error) {
    const message = `@fdloop/backend-kqueue: building the native addon failed: ${error instanceof Error ? error.message : error}`;
    if (options.exit === false) throw new Error(message, { cause: error });
    console.error(`${message}\nAfter fixing the cause, run \`npm rebuild @fdloop/backend-kqueue\`.`);
    process.exit(1);
  }
}
