// Runs cmake-js for this package without ever downloading anything: Node's C headers (node_api.h and, for
// uv_poll, uv.h) are taken from a local directory, and node-addon-api from node_modules.
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

/** The package root (where CMakeLists.txt lives). */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** Where cmake-js puts the addon, and where src/native.ts loads it from. */
export const addonPath = join(packageRoot, 'build', 'Release', 'fdloop_epoll.node');

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
      `\`npm_config_nodedir=/path/to/node npm rebuild @fdloop/backend-epoll\`, or install the Node.js ` +
      `development headers of your distribution.`,
  );
}

/**
 * Configures (if build/ has not been configured yet) and builds the addon. Exits the process with a readable
 * message if anything fails.
 * @param {string} why shown before the build starts
 */
export function buildNative(why) {
  try {
    const nodeDir = findNodeDir();
    const cmakeJs = join(dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
    const addonApiDir = dirname(require.resolve('node-addon-api/package.json'));
    console.log(`@fdloop/backend-epoll: ${why} (Node headers from ${nodeDir})`);
    const args = [
      cmakeJs,
      'build',
      '--log-level',
      'warn',
      '--directory',
      packageRoot,
      '--parallel',
      String(availableParallelism()),
      `--CDNODE_ADDON_API_DIR=${addonApiDir}`,
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
          'compiler (g++ or clang++) and make or ninja.',
      );
    }
    if (!existsSync(addonPath)) throw new Error(`the build finished but ${addonPath} is missing`);
  } catch (error) {
    console.error(
      `@fdloop/backend-epoll: building the native addon failed: ${error instanceof Error ? error.message : error}\n` +
        'After fixing the cause, run `npm rebuild @fdloop/backend-epoll`.',
    );
    process.exit(1);
  }
}
