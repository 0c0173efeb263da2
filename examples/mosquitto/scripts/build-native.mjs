// The native half of `npm run build`: an incremental cmake-js build of fdloop_mosquitto.node into build/Release,
// offline, against Node's local headers — the same way as @fdloop/backend-epoll's scripts/cmake-js.mjs.

import { spawnSync } from 'node:child_process';
import console from 'node:console';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const NAME = '@fdloop/example-mosquitto';
const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const built = join(packageRoot, 'build', 'Release', 'fdloop_mosquitto.node');
const require = createRequire(join(packageRoot, 'package.json'));

const hasHeaders = (dir) => ['node.h', 'node_api.h'].every((name) => existsSync(join(dir, 'include', 'node', name)));

/** npm's `nodedir`, else the prefix Node is installed in (headers in <prefix>/include/node). */
function findNodeDir() {
  const candidates = [process.env.npm_config_nodedir, resolve(dirname(process.execPath), '..')].filter(Boolean);
  const found = candidates.map((c) => resolve(c)).find(hasHeaders);
  if (found === undefined) {
    throw new Error(`Node's C headers (include/node/node_api.h) were not found in: ${candidates.join(', ')}; pass --nodedir`);
  }
  return found;
}

// Without libmosquitto's headers, skip the addon rather than fail the whole monorepo install (the root postinstall
// builds every workspace): the example's tests then fail with a message saying what to install. CI sets
// FDLOOP_REQUIRE_MOSQUITTO=1 so that a missing library fails the build instead.
const includeDirs = ['/usr/include', '/usr/local/include', ...(process.env.CPATH ?? '').split(':').filter(Boolean)];
if (!includeDirs.some((dir) => existsSync(join(dir, 'mosquitto.h')))) {
  const message = `${NAME}: libmosquitto's headers (mosquitto.h) are not installed; install libmosquitto-dev to build this example`;
  if (process.env.FDLOOP_REQUIRE_MOSQUITTO === '1') {
    console.error(message);
    process.exit(1);
  }
  console.warn(`${message} (skipped)`);
  process.exit(0);
}

try {
  const nodeDir = findNodeDir();
  const cmakeJs = join(dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
  const addonApiDir = dirname(require.resolve('node-addon-api/package.json'));
  console.log(`${NAME}: building the native addon (incremental; Node headers from ${nodeDir})`);
  const args = [cmakeJs, 'build', '--log-level', 'warn', '--directory', packageRoot, '--out', join(packageRoot, 'build'),
    '--config', 'Release', '--parallel', String(availableParallelism()), `--CDNODE_ADDON_API_DIR=${addonApiDir}`];
  const result = spawnSync(process.execPath, args, { cwd: packageRoot, stdio: 'inherit', env: { ...process.env, npm_config_nodedir: nodeDir } });
  if (result.error) throw result.error;
  if (result.status !== 0) {
    throw new Error(`cmake-js exited with ${result.signal ?? `code ${result.status}`}. It needs cmake >= 3.15, a C++17 compiler and libmosquitto-dev.`);
  }
  if (!existsSync(built)) throw new Error(`the build finished but ${built} is missing`);
} catch (error) {
  console.error(`${NAME}: building the native addon failed: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
}
