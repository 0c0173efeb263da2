// Real builds: a one-function addon (test/fixtures/hello) compiled with cmake-js through buildAddon(),
// installAddon() and prebuildAddon(), then loaded with loadAddon(). No mocks: a "broken prebuild" is a file that
// really fails in dlopen.
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import {
  AddonLoadError,
  addonLoader,
  buildAddon,
  checkAddon,
  defaultAddonLocations,
  findNodeDir,
  installAddon,
  isAddonSyscallError,
  loadAddon,
  platformTarget,
  prebuildAddon,
} from '../src/index.js';

interface Hello {
  hello(): string;
}

interface Shared {
  checked(n: unknown): number;
}

const ADDON = 'hello_addon.node';
const NAME = '@fdloop/native-build-test';
const here = fileURLToPath(new URL('.', import.meta.url));
const fixture = join(here, 'fixtures', 'hello');
// Inside this package, so that cmake-js and node-addon-api resolve from the copies (the monorepo's node_modules).
const scratchRoot = join(here, '..', '.test-tmp');
let scratch: string;

function copyFixture(name: string, from = fixture): string {
  const dir = join(scratch, name);
  cpSync(from, dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: `${NAME}-${name}`, private: true }));
  return dir;
}

beforeAll(() => {
  mkdirSync(scratchRoot, { recursive: true });
  scratch = mkdtempSync(join(scratchRoot, 'run-'));
});

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  if (readdirSync(scratchRoot).length === 0) rmSync(scratchRoot, { recursive: true, force: true });
});

describe('findNodeDir', () => {
  it("finds this Node's headers", () => {
    const dir = findNodeDir();
    expect(existsSync(join(dir, 'include', 'node', 'node_api.h'))).toBe(true);
  });

  it('names the directories it tried when a header is missing', () => {
    expect(() => findNodeDir(['no-such-header.h'], '@me/pkg')).toThrow(/no-such-header\.h.*not found in: \//s);
    expect(() => findNodeDir(['no-such-header.h'], '@me/pkg')).toThrow(/npm rebuild @me\/pkg/);
  });
});

describe('loadAddon', () => {
  it('lists every location tried when none has the addon', () => {
    const root = copyFixture('empty');
    let error: unknown;
    try {
      loadAddon({ name: NAME, addon: ADDON, root: pathToFileURL(`${root}/`), note: 'Linux only.' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AddonLoadError);
    const e = error as AddonLoadError;
    expect(e.code).toBe('ERR_FDLOOP_ADDON_LOAD');
    expect(e.tried.map((t) => t.file)).toEqual(defaultAddonLocations().map((l) => join(root, l, ADDON)));
    expect(e.tried.every((t) => t.reason === 'not found')).toBe(true);
    expect(e.message).toMatch(`${NAME}: the native addon could not be loaded. Linux only. Build it with \`npm rebuild ${NAME}\``);
    expect(e.cause).toBeUndefined();
  });

  it('rejects a relative root', () => {
    expect(() => loadAddon({ name: NAME, addon: ADDON, root: 'relative/dir' })).toThrow(TypeError);
  });

  it('reports files that fail in dlopen, with the last error as cause', () => {
    const root = copyFixture('garbage');
    for (const location of defaultAddonLocations()) {
      mkdirSync(join(root, location), { recursive: true });
      writeFileSync(join(root, location, ADDON), 'not an ELF file');
    }
    let error: unknown;
    try {
      loadAddon({ name: NAME, addon: ADDON, root, hint: 'Try again.' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AddonLoadError);
    const e = error as AddonLoadError;
    expect(e.tried).toHaveLength(2);
    for (const t of e.tried) expect(t.reason).not.toBe('not found');
    expect(e.cause).toBeInstanceOf(Error);
    expect(e.message).toMatch('could not be loaded. Try again.');
  });
});

describe('isAddonSyscallError', () => {
  it('accepts an Error with numeric errno and string syscall only', () => {
    expect(isAddonSyscallError(Object.assign(new Error('x'), { errno: 9, syscall: 'close' }))).toBe(true);
    expect(isAddonSyscallError(Object.assign(new Error('x'), { errno: '9', syscall: 'close' }))).toBe(false);
    expect(isAddonSyscallError(Object.assign(new Error('x'), { errno: 9 }))).toBe(false);
    expect(isAddonSyscallError({ errno: 9, syscall: 'close' })).toBe(false);
    expect(isAddonSyscallError(undefined)).toBe(false);
  });
});

describe('building, installing, prebuilding (real cmake-js builds)', () => {
  let pkg: string;

  beforeAll(() => {
    pkg = copyFixture('pkg');
  });

  it('buildAddon throws a readable error with exit: false when cmake fails', () => {
    const broken = copyFixture('broken');
    writeFileSync(join(broken, 'native', 'hello.cc'), 'this is not C++;\n');
    expect(() =>
      buildAddon({ packageRoot: broken, name: NAME, addon: ADDON, why: 'test', defines: { HELLO_GREETING: 'x' }, exit: false }),
    ).toThrow(new RegExp(`^${NAME}: building the native addon failed: cmake-js exited with code`));
  });

  it('installAddon compiles when there is nothing to load, then reuses the build', () => {
    const options = {
      packageRoot: pkg,
      name: NAME,
      addon: ADDON,
      expect: { hello: 'function' },
      build: { defines: { HELLO_GREETING: 'hi from cmake' } },
      exit: false,
    } as const;
    expect(installAddon(options)).toBe('compiled');
    expect(existsSync(join(pkg, 'build', 'Release', ADDON))).toBe(true);
    expect(installAddon(options)).toBe('existing');
    expect(checkAddon(join(pkg, 'build', 'Release', ADDON), { hello: 'function' })).toEqual({ ok: true });
    const wrong = checkAddon(join(pkg, 'build', 'Release', ADDON), { goodbye: 'function' });
    expect(wrong.ok).toBe(false);
    expect(!wrong.ok && wrong.reason).toMatch(/unexpected exports: hello \(expected goodbye: function\)/);
    expect(checkAddon(join(pkg, 'nope.node'))).toEqual({ ok: false, reason: 'not found' });
  });

  it('prebuildAddon writes a stripped prebuild into a staged copy, and refuses the package itself', () => {
    const stage = copyFixture('stage');
    expect(() => prebuildAddon({ packageRoot: pkg, stage: pkg, name: NAME, addon: ADDON })).toThrow(/refusing to write prebuilds/);
    expect(() => prebuildAddon({ packageRoot: pkg, stage: join(scratch, 'none'), name: NAME, addon: ADDON })).toThrow(
      /is not a copy of/,
    );
    const dest = prebuildAddon({
      packageRoot: pkg,
      stage,
      name: NAME,
      addon: ADDON,
      expect: { hello: 'function' },
      defines: { HELLO_GREETING: 'hi from the prebuild' },
    });
    expect(dest).toBe(join(stage, 'prebuilds', platformTarget(), ADDON));
    expect(existsSync(join(stage, 'build'))).toBe(false);
    // An install of the staged copy uses the prebuild and compiles nothing.
    expect(installAddon({ packageRoot: stage, name: NAME, addon: ADDON, expect: { hello: 'function' }, exit: false })).toBe(
      'prebuilt',
    );
    expect(existsSync(join(stage, 'build'))).toBe(false);
    expect(loadAddon<Hello>({ name: NAME, addon: ADDON, root: stage }).hello()).toBe('hi from the prebuild');
  });

  it('falls back past a prebuild that fails in dlopen, at install time and at load time', () => {
    const stage = copyFixture('broken-prebuild');
    mkdirSync(join(stage, 'prebuilds', platformTarget()), { recursive: true });
    writeFileSync(join(stage, 'prebuilds', platformTarget(), ADDON), 'not an ELF file');
    mkdirSync(join(stage, 'build', 'Release'), { recursive: true });
    copyFileSync(join(pkg, 'build', 'Release', ADDON), join(stage, 'build', 'Release', ADDON));
    expect(installAddon({ packageRoot: stage, name: NAME, addon: ADDON, exit: false })).toBe('existing');
    expect(loadAddon<Hello>({ name: NAME, addon: ADDON, root: stage }).hello()).toBe('hi from cmake');
  });

  it('addonLoader loads once and returns the same exports; refuse() throws before trying; failures are retried', () => {
    const load = addonLoader<Hello>({ name: NAME, addon: ADDON, root: pkg });
    const first = load();
    expect(first.hello()).toBe('hi from cmake');
    expect(load()).toBe(first);

    let platformOk = false;
    const refusing = addonLoader<Hello>({
      name: NAME,
      addon: ADDON,
      root: pkg,
      refuse: () => (platformOk ? undefined : `${NAME} is not for ${process.platform}`),
    });
    expect(refusing).toThrow(new Error(`${NAME} is not for ${process.platform}`));
    platformOk = true;
    expect(refusing().hello()).toBe('hi from cmake');

    const empty = copyFixture('loader-empty');
    const missing = addonLoader<Hello>({ name: NAME, addon: ADDON, root: empty });
    expect(missing).toThrow(AddonLoadError);
    mkdirSync(join(empty, 'build', 'Release'), { recursive: true });
    copyFileSync(join(pkg, 'build', 'Release', ADDON), join(empty, 'build', 'Release', ADDON));
    expect(missing().hello()).toBe('hi from cmake');
  });
});

describe('the shared C++ (fdloop_addon COMPONENTS, real cmake-js builds)', () => {
  const build = (root: string, components: string): string =>
    buildAddon({ packageRoot: root, name: NAME, addon: 'shared_addon.node', why: 'test', defines: { SHARED_COMPONENTS: components }, exit: false });

  it('compiles the args component in: its checks throw TypeError and RangeError', () => {
    const root = copyFixture('shared', join(here, 'fixtures', 'shared'));
    build(root, 'args');
    const shared = loadAddon<Shared>({ name: NAME, addon: 'shared_addon.node', root });
    expect(shared.checked(31)).toBe(31);
    expect(() => shared.checked(32)).toThrow(new RangeError('n must be an integer from 0 to 31'));
    expect(() => shared.checked(1.5)).toThrow(RangeError);
    expect(() => shared.checked('1')).toThrow(new TypeError('n must be a number'));
  });

  it('refuses an unknown component', () => {
    const root = copyFixture('shared-unknown', join(here, 'fixtures', 'shared'));
    expect(() => build(root, 'args;nope')).toThrow(/cmake-js exited with code/);
  });
});
