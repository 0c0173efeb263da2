// Building fdloop_iocp.node, two ways:
//  - on Windows: cmake-js with MSVC. package.json's `binary.napi_versions` makes cmake-js build a Node-API-only
//    addon against the `node-api-headers` package (headers and a node.lib made from its .def), so nothing is
//    downloaded.
//  - on Linux: a mingw-w64 cross-compile (CI runs the result under Wine, see ci-wine.sh). cmake configures
//    build-mingw/ with cmake/mingw-w64-x86_64.cmake; the import library of node.exe is made from
//    node-api-headers' def/node_api.def by dlltool inside CMakeLists.txt.

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
export const ADDON = 'fdloop_iocp.node';

/** Where the cross build puts the addon (src/native.ts looks there last). */
export const crossAddonPath = join(packageRoot, 'build-mingw', 'Release', ADDON);

/** Where cmake-js puts the addon on Windows. */
export const addonPath = join(packageRoot, 'build', 'Release', ADDON);

/** Where a prebuilt binary ships in the package. */
export const prebuiltPath = join(packageRoot, 'prebuilds', 'win32-x64', ADDON);

const MINGW_CXX = 'x86_64-w64-mingw32-g++-posix';

const require = createRequire(join(packageRoot, 'package.json'));

function has(command) {
  const r = spawnSync('sh', ['-c', `command -v ${command}`], { encoding: 'utf8' });
  return r.status === 0;
}

/** Why a cross build cannot run here, or undefined when it can. */
export function crossBuildMissing() {
  const missing = [MINGW_CXX, 'x86_64-w64-mingw32-dlltool', 'cmake'].filter((c) => !has(c));
  return missing.length === 0 ? undefined : `missing ${missing.join(', ')} (apt-get install g++-mingw-w64-x86-64-posix cmake)`;
}

function run(command, args, cwd, env = process.env) {
  const result = spawnSync(command, args, { cwd, stdio: 'inherit', env });
  if (result.error) throw result.error;
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} exited with ${result.signal ?? result.status}`);
}

/** Cross-compile on Linux into build-mingw/ (incremental). Returns the addon's path. */
export function crossBuild() {
  const out = join(packageRoot, 'build-mingw');
  const addonApi = dirname(require.resolve('node-addon-api/package.json'));
  const headers = dirname(require.resolve('node-api-headers/package.json'));
  if (!existsSync(join(out, 'CMakeCache.txt'))) {
    run('cmake', [
      '-S', packageRoot,
      '-B', out,
      `-DCMAKE_TOOLCHAIN_FILE=${join(packageRoot, 'cmake', 'mingw-w64-x86_64.cmake')}`,
      '-DCMAKE_BUILD_TYPE=Release',
      `-DNODE_ADDON_API_DIR=${addonApi}`,
      `-DNODE_API_HEADERS_DIR=${headers}`,
    ], packageRoot);
  }
  run('cmake', ['--build', out, '--parallel', String(availableParallelism())], packageRoot);
  if (!existsSync(crossAddonPath)) throw new Error(`the build finished but ${crossAddonPath} is missing`);
  return crossAddonPath;
}

/** Build with cmake-js and MSVC on Windows into build/ (incremental). Returns the addon's path. */
export function msvcBuild() {
  const cmakeJs = join(dirname(require.resolve('cmake-js/package.json')), 'bin', 'cmake-js');
  const addonApi = dirname(require.resolve('node-addon-api/package.json'));
  run(process.execPath, [
    cmakeJs, 'build', '--log-level', 'warn', '--directory', packageRoot, '--out', join(packageRoot, 'build'),
    '--config', 'Release', `--CDNODE_ADDON_API_DIR=${addonApi}`,
  ], packageRoot);
  if (!existsSync(addonPath)) throw new Error(`the build finished but ${addonPath} is missing`);
  return addonPath;
}

/** Print a failure the way every script here does, and exit. */
export function fail(what, error) {
  console.error(`@fdloop/backend-iocp: ${what} failed: ${error instanceof Error ? error.message : error}`);
  process.exit(1);
}
