// This package's addon, for the shared cmake-js driver in @fdloop/native-build (offline, against Node's local
// headers, node-addon-api from node_modules).
//
// Two builds: the real addon (macOS, FreeBSD) in build/Release, and, on Linux for this repository's tests only,
// the addon compiled against the kqueue emulation (-DFDLOOP_KQUEUE_EMULATION=ON) in build/emulated/Release.

import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { buildAddon } from '@fdloop/native-build';

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
  return buildAddon({
    packageRoot,
    name: '@fdloop/backend-kqueue',
    addon: ADDON,
    why,
    out: options.out ?? (emulation ? emulatedOut : join(packageRoot, 'build')),
    defines: { FDLOOP_KQUEUE_EMULATION: emulation ? 'ON' : 'OFF' },
    needs: 'cmake >= 3.15, a C++17 compiler (clang++ or g++) and make or ninja',
    exit: options.exit !== false,
  });
}
