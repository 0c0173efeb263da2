// Runs cmake-js for this package without ever downloading anything: Node's C headers (node_api.h and, for
// uv_poll, uv.h) are taken from a local directory, and node-addon-api from node_modules.
//
// cmake-js reads the headers' location from npm's `nodedir` setting (npm_config_nodedir); when that names a
// directory holding include/node/node.h it skips its download. We make sure it always does, by passing the
// directory we found explicitly in the child's environment.
//
// Also here: checkAddon(), which loads a built or prebuilt addon in a child process (a binary built against a
// newer glibc, or for another libc, fails in dlopen; a child keeps that failure out of the installing process).

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

/** The addon's file name, wherever it is built or shipped. */
export const ADDON = 'fdloop_serial.node';

/** Where cmake-js puts the addon, and where src/native.ts loads it from. */
export const addonPath = join(packageRoot, 'build', 'Release', ADDON);

/** Where a prebuilt binary for this platform ships in the package (src/native.ts tries it first). */
export const prebuiltPath = join(packageRoot, 'prebuilds', `${process.platform}-${process.arch}`, ADDON);

const require = createRequire(join(packageRoot, 'package.json'));

function hasHeaders(dir) {
  return ['node.h', 'node_api.h', 'uv.h'].every((name) => existsSync(join(dir, 'include', 'node', name)));
}

/**
 * The directory whose include/node holds Node's headers: npm's `nodedir` if set (npm passes it as
 * npm_config_nodedir), else the prefix Node itself is installed in (`<prefix>/bin/node` with headers in
 * `<prefix>/include/node`, as in the official binaries and distribution packages).
 */
function findNodeDir() {
  const tried = [];
  const candidates = [process.env.npm_config_nodedir, resolve(dirname(process.execPath), '..')];
  for (const candidate of candidates) {
    if (!candidate) continue;
    const dir = resolve(candidate);
    if (hasHeaders(dir)) return dir;
    tried.push(dir);
  }
  throw new Error(
    `Node's C headers (include/node/node.h, node_api.h, uv.h) were not found in: ${tried.join(', ')}.\n` +
      `Point npm at a directory containing include/node, e.g. \`npm install --nodedir=/usr\` or ` +
      `\`npm_config_nodedir=/path/to/node npm rebuild @fdloop/mod-serial\`, or install the Node.js ` +
      `development headers of your distribution.`,
  );
}

/**
 * Configures (if the build directory has not been configured yet) and builds the addon in the Release
 * configuration. Exits the process with a readable message if anything fails.
 * @param {string} why shown before the build starts
 * @param {{ directory?: string, out?: string }} [options] the source directory (default: this package) and the
 *   build directory (default: `<directory>/build`); the addon lands in `<out>/Release/fdloop_serial.node`
 * @returns {string} the path of the built addon
 */
export function buildNative(why, options = {}) {
  const directory = resolve(options.directory ?? packageRoot);
  const out = resolve(options.out ?? join(directory, 'build'));
  const built = join(out, 'Release', ADDON);
  try {
    const nodeDir = findNodeDir();
    const cmakeJs = join(dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
    const addonApiDir = dirname(require.resolve('node-addon-api/package.json'));
    console.log(`@fdloop/mod-serial: ${why} (Node headers from ${nodeDir})`);
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
    ];
    const result = spawnSync(process.execPath, args, {
      cwd: directory,
      stdio: 'inherit',
      env: { ...process.env, npm_config_nodedir: nodeDir },
    });
    if (result.error) throw result.error;
    if (result.status !== 0) {
      throw new Error(
        `cmake-js exited with ${result.signal ?? `code ${result.status}`}. It needs cmake >= 3.15, a C++17 ` +
          'compiler (g++ or clang++) and make or ninja.',
      );
    }
    if (!existsSync(built)) throw new Error(`the build finished but ${built} is missing`);
    return built;
  } catch (error) {
    console.error(
      `@fdloop/mod-serial: building the native addon failed: ${error instanceof Error ? error.message : error}\n` +
        'After fixing the cause, run `npm rebuild @fdloop/mod-serial`.',
    );
    process.exit(1);
  }
}

// Loads the addon the way src/native.ts does (require) and checks its exports, in a child process.
const CHECK = `
const m = require(process.argv[1]);
if (typeof m.open !== 'function' || typeof m.applySettings !== 'function' || typeof m.constants !== 'object') {
  throw new Error('unexpected exports: ' + Object.keys(m).join(', '));
}`;

/**
 * Whether the addon at `file` loads into this Node (tried in a child process, since a glibc or libc mismatch only
 * shows in dlopen).
 * @param {string} file
 * @returns {{ ok: true } | { ok: false, reason: string }}
 */
export function checkAddon(file) {
  if (!existsSync(file)) return { ok: false, reason: 'not found' };
  const result = spawnSync(process.execPath, ['-e', CHECK, file], { encoding: 'utf8', timeout: 60_000 });
  if (result.error) return { ok: false, reason: result.error.message };
  if (result.status === 0) return { ok: true };
  const lines = `${result.stderr}`.split('\n').map((line) => line.trim());
  const reason =
    lines.find((line) => /^(\w*Error|Error)\b/.test(line)) ??
    lines.filter(Boolean).pop() ??
    `exited with ${result.signal ?? result.status}`;
  return { ok: false, reason };
}
