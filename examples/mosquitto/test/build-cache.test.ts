// The nx cache must not restore a build made on a machine that has since changed (issue 15): this example's
// build skips the addon when libmosquitto's header is missing, and nx used to restore that skipped build after
// libmosquitto-dev was installed. Here the real example (sources, build script, package.json with its nx inputs)
// is copied into a scratch nx workspace with the repository's real nx.json and env probe, and built three times
// with real nx and a real compiler: without the header (skipped), again (restored from the cache), and with the
// header added (compiled, not restored). The header is "added" by pointing FDLOOP_MOSQUITTO_INCLUDE_DIR, the build's
// only header location when set, at a directory that first lacks mosquitto.h and then has a copy of the system's.
import { spawnSync } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const example = resolve(here, '..');
const repo = resolve(example, '../..');
const systemHeader = '/usr/include/mosquitto.h';
const haveLibrary = existsSync(systemHeader);
// CI installs libmosquitto-dev (scripts/system-packages.txt), so there a missing header is a failure, not a skip.
const runIt = haveLibrary || process.env.CI === 'true' ? it : it.skip;

const scratch = mkdtempSync(join(tmpdir(), 'fdloop-nx-cache-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

function makeWorkspace(): { root: string; include: string } {
  const root = join(scratch, 'ws');
  mkdirSync(join(root, 'scripts'), { recursive: true });
  for (const file of ['nx.json', '.gitignore', 'tsconfig.base.json', 'scripts/env-probe.mjs']) copyFileSync(join(repo, file), join(root, file));
  const copy = join(root, 'examples', 'mosquitto');
  for (const part of ['package.json', 'tsconfig.json', 'tsconfig.build.json', 'CMakeLists.txt', 'src', 'native', 'scripts']) {
    cpSync(join(example, part), join(copy, part), { recursive: true });
  }
  writeFileSync(
    join(root, 'package.json'),
    JSON.stringify({ name: 'nx-cache-fixture', private: true, type: 'module', workspaces: ['examples/*'], nx: { includedScripts: [] } }),
  );
  // The repository's installed packages (nx, typescript, cmake-js, @fdloop/*): the fixture installs nothing.
  symlinkSync(join(repo, 'node_modules'), join(root, 'node_modules'), 'dir');
  const include = join(scratch, 'include');
  mkdirSync(include);
  return { root, include };
}

function nxBuild(root: string, include: string): { output: string; status: number | null } {
  const env: NodeJS.ProcessEnv = {};
  // Nothing of the nx run this test itself runs under (its workspace root, task ids) may leak into the child.
  for (const [key, value] of Object.entries(process.env)) if (!key.startsWith('NX_')) env[key] = value;
  delete env.FDLOOP_REQUIRE_MOSQUITTO; // the skipped build is the case under test; CI sets this to fail instead
  Object.assign(env, { NX_DAEMON: 'false', NX_NO_CLOUD: 'true', NX_TUI: 'false', FDLOOP_MOSQUITTO_INCLUDE_DIR: include });
  const r = spawnSync(
    process.execPath,
    [join(root, 'node_modules/nx/dist/bin/nx.js'), 'run', '@fdloop/example-mosquitto:build', '--outputStyle=static'],
    { cwd: root, env, encoding: 'utf8', timeout: 180_000 },
  );
  return { output: `${r.stdout}${r.stderr}`, status: r.status };
}

const CACHE_HIT = /\[(local cache|existing outputs match the cache, left as is)\]/;

describe('nx cache of the example build follows the machine', () => {
  runIt(
    'built without mosquitto.h (skipped), the same again (cached), with the header added (compiled, not restored)',
    () => {
      const { root, include } = makeWorkspace();
      const addon = join(root, 'examples/mosquitto/build/Release/fdloop_mosquitto.node');

      const first = nxBuild(root, include);
      expect(first.status, first.output).toBe(0);
      expect(first.output).toContain("libmosquitto's headers (mosquitto.h) are not installed");
      expect(first.output).not.toMatch(CACHE_HIT);
      expect(existsSync(addon)).toBe(false);

      const second = nxBuild(root, include);
      expect(second.status, second.output).toBe(0);
      expect(second.output).toMatch(CACHE_HIT);

      copyFileSync(systemHeader, join(include, 'mosquitto.h'));
      const third = nxBuild(root, include);
      expect(third.status, third.output).toBe(0);
      expect(third.output).not.toMatch(CACHE_HIT);
      expect(third.output).not.toContain('are not installed');
      expect(existsSync(addon), third.output).toBe(true);
    },
    300_000,
  );
});
