#!/usr/bin/env node
// CI step after scripts/pack.mjs: installs the tarballs in .work/pack/ into fresh projects outside the workspace,
// the way a user would (`npm install @fdloop/core @fdloop/backend-epoll`), and runs a small program there.
//
//   (a) prebuilt: the tarballs as packed (backend-epoll carries prebuilds/linux-x64/fdloop_epoll.node). npm runs
//       with a PATH holding nothing but `node` and `sh`: no cmake, make, ninja or compiler, so a compile would
//       fail. The install must say it uses the prebuilt binary, leave no build/, and the program must load the
//       prebuild.
//   (b) from source: every tarball that carries prebuilds/ is repacked without it. The install must compile with
//       cmake-js against Node's local headers; any attempt to download headers goes to a dead mirror
//       (NVM_NODEJS_ORG_MIRROR=http://127.0.0.1:9) and would fail. The program must load build/Release.
//   (c) unloadable prebuild (built against a newer glibc): in project (a) the prebuild is patched to require
//       GLIBC_9.9, and `npm rebuild` must notice and compile; the program must then load build/Release (the
//       loader falls back past the prebuild that fails in dlopen).
//   (d) install scripts not run (`--ignore-scripts`, or npm's allowScripts policy blocking them): with the prebuild
//       nothing needs to run at install time, and the program must load the prebuild.
//
// The program creates a runtime with createRuntime() (backend auto-detection) and with epoll(), watches a
// sys.pipe() with a callback and with `await rt.readable()`, imports @fdloop/core/testing, loads both packages
// from CommonJS too (require(esm), Node >= 20.19), and prints OK.
//
// Only the npm registry is contacted (cmake-js and node-addon-api are dependencies of backend-epoll).
// Every tarball in .work/pack/ is installed, so new publishable packages are covered once pack.mjs packs them.
// Options: --keep (leave the temporary projects for inspection), --only=a,b,c,d (run some scenarios; c needs a).

import console from 'node:console';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, delimiter, join, relative } from 'node:path';
import process from 'node:process';

import { npmCommand, packDir, publishablePackages, repoRoot, run, seconds } from './lib/workspaces.mjs';

const argv = process.argv.slice(2);
const keep = argv.includes('--keep');
const onlyArg = argv.find((a) => a.startsWith('--only='));
const only = new Set(onlyArg ? onlyArg.slice('--only='.length).split(',') : ['a', 'b', 'c', 'd']);
for (const arg of argv) {
  if (arg !== '--keep' && !arg.startsWith('--only=')) {
    console.error(`tarball-smoke: unknown option ${arg}\nusage: node scripts/tarball-smoke.mjs [--keep] [--only=a,b,c,d]`);
    process.exit(2);
  }
}

const started = performance.now();
const [npmNode, npmCli] = npmCommand();
const target = `${process.platform}-${process.arch}`;
const NPM_FLAGS = ['--no-audit', '--no-fund', '--foreground-scripts', '--loglevel=warn'];
const COMPILERS = ['cmake', 'make', 'ninja', 'cc', 'c++', 'gcc', 'g++', 'clang', 'clang++'];

function fail(message) {
  console.error(`\ntarball-smoke: FAILED: ${message}`);
  process.exit(1);
}

function check(condition, message) {
  if (!condition) fail(message);
  console.log(`  ok: ${message}`);
}

// --- The tarballs ------------------------------------------------------------------------------------------------

if (!existsSync(packDir)) fail(`${relative(repoRoot, packDir)}/ does not exist: run node scripts/pack.mjs first`);
const tarballs = readdirSync(packDir)
  .filter((f) => f.endsWith('.tgz'))
  .map((f) => {
    const file = join(packDir, f);
    const manifest = JSON.parse(run('tar', ['-xzOf', file, 'package/package.json'], { capture: true }).stdout);
    const entries = run('tar', ['-tzf', file], { capture: true }).stdout.split('\n');
    return { file, manifest, name: manifest.name, prebuilds: entries.filter((e) => /^package\/prebuilds\/.+\.node$/.test(e)) };
  });

for (const pkg of publishablePackages()) {
  const tarball = tarballs.find((t) => t.name === pkg.name);
  if (!tarball) fail(`no tarball for ${pkg.name} in ${relative(repoRoot, packDir)}/: run node scripts/pack.mjs`);
  if (tarball.manifest.version !== pkg.version) {
    fail(`${relative(repoRoot, tarball.file)} is ${pkg.name}@${tarball.manifest.version}, the workspace has ${pkg.version}: repack`);
  }
}
for (const required of ['@fdloop/core', '@fdloop/native-build', '@fdloop/backend-epoll']) {
  if (!tarballs.some((t) => t.name === required)) fail(`no tarball for ${required}`);
}
const matches = (list, value) => !Array.isArray(list) || list.length === 0 || list.includes(value) || (list.some((v) => v.startsWith('!')) && !list.includes(`!${value}`));
const installable = tarballs.filter((t) => {
  const ok = matches(t.manifest.os, process.platform) && matches(t.manifest.cpu, process.arch);
  if (!ok) console.log(`skipping ${t.name}: not for ${target} (os ${JSON.stringify(t.manifest.os)}, cpu ${JSON.stringify(t.manifest.cpu)})`);
  return ok;
});
const epollTarball = installable.find((t) => t.name === '@fdloop/backend-epoll');
if (!epollTarball) fail('@fdloop/backend-epoll cannot be installed here (it is for Linux)');
if (!epollTarball.prebuilds.includes(`package/prebuilds/${target}/fdloop_epoll.node`)) {
  fail(`${relative(repoRoot, epollTarball.file)} has no prebuilds/${target}/fdloop_epoll.node`);
}
// A package with an install script but no prebuild for this machine compiles at install time, which scenario (a)
// forbids: it is left out of (a) and (d) (with a note) and installed in (b) only.
const INSTALL_SCRIPTS = ['preinstall', 'install', 'postinstall'];
const hasInstallScript = (t) => INSTALL_SCRIPTS.some((s) => t.manifest.scripts?.[s]);
const compilesHere = (t) => hasInstallScript(t) && !t.prebuilds.some((p) => p.startsWith(`package/prebuilds/${target}/`));
const prebuiltSet = installable.filter((t) => !compilesHere(t));
for (const t of installable.filter(compilesHere)) {
  console.log(`note: ${t.name} has an install script and no prebuilds/${target}/: installed in scenario (b) only (give it a pack:prebuild script)`);
}
console.log(`== tarballs: ${installable.map((t) => `${relative(repoRoot, t.file)}${t.prebuilds.length ? ` (${t.prebuilds.map((p) => p.slice('package/'.length)).join(', ')})` : ''}`).join(', ')}`);

// --- A scratch area outside the workspace ------------------------------------------------------------------------

const scratch = mkdtempSync(join(tmpdir(), 'fdloop-smoke-'));
if (!relative(repoRoot, scratch).startsWith('..')) fail(`${scratch} is inside the workspace`);
console.log(`== scratch directory ${scratch}${keep ? ' (kept)' : ''}`);

// A PATH with only `node` and `sh` in it: npm itself runs as `node npm-cli.js`, and runs lifecycle scripts with
// `sh -c` (looked up on PATH).
const bareBin = join(scratch, 'bin');
mkdirSync(bareBin);
symlinkSync(process.execPath, join(bareBin, 'node'));
symlinkSync('/bin/sh', join(bareBin, 'sh'));
const barePath = bareBin;

function which(name, pathValue) {
  for (const dir of pathValue.split(delimiter)) {
    if (!dir) continue;
    const file = join(dir, name);
    try {
      if (statSync(file).isFile()) return file;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** Environment for npm and the program: this machine's, with PATH replaced and npm's own variables removed. */
function makeEnv(pathValue, extra = {}) {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_/i.test(key) && !/^npm_config_(nodedir|cache|registry|userconfig)$/i.test(key)) continue;
    if (/^(INIT_CWD|NODE_OPTIONS|NX_.*)$/.test(key)) continue;
    env[key] = value;
  }
  return { ...env, PATH: pathValue, ...extra };
}

function npmIn(project, npmArgs, env) {
  const t = performance.now();
  console.log(`  $ npm ${npmArgs.join(' ')}`);
  const result = run(npmNode, [npmCli, ...npmArgs], { cwd: project, env, tee: true, allowFailure: true });
  if (!result.ok) fail(`npm ${npmArgs[0]} failed in ${project} (exit ${result.status})`);
  console.log(`  (npm ${npmArgs[0]}: ${seconds(t)})`);
  return `${result.stdout}${result.stderr}`;
}

const PROGRAM = `// Written by scripts/tarball-smoke.mjs: what a user of @fdloop/core + @fdloop/backend-epoll would write.
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { createRuntime, Interest } from '@fdloop/core';
import { epoll, sys } from '@fdloop/backend-epoll';
import * as testing from '@fdloop/core/testing';

assert.equal(typeof testing.runConformanceSuite, 'function', '@fdloop/core/testing exports runConformanceSuite');

async function exercise(label, rt) {
  assert.equal(rt.backend.name, 'epoll', label + ': backend');
  const [r, w] = sys.pipe();
  const buf = Buffer.alloc(64);

  // A watcher with a callback.
  const seen = [];
  rt.watch(r, Interest.READABLE, (ev, watcher) => {
    assert.ok(ev.readable);
    seen.push(buf.toString('utf8', 0, sys.read(r, buf)));
    watcher.close();
  });
  sys.write(w, Buffer.from('ping'));
  await rt.run();
  assert.deepEqual(seen, ['ping'], label + ': callback');

  // A promise.
  rt.setTimeout(() => sys.write(w, Buffer.from('pong')), 5);
  const ev = await rt.readable(r);
  assert.ok(ev.readable && ev.fd === r, label + ': readable()');
  assert.equal(buf.toString('utf8', 0, sys.read(r, buf)), 'pong', label + ': promise');

  sys.close(r);
  sys.close(w);
  await rt.close();
  console.log('  ' + label + ': callback and await rt.readable() on a sys.pipe() OK');
}

await exercise('createRuntime() (auto-detected)', createRuntime());
await exercise('createRuntime({ backend: epoll() })', createRuntime({ backend: epoll() }));

// Every other installed package imports too (after the checks above: a plugin may register a backend on import).
for (const name of JSON.parse(process.env.SMOKE_PACKAGES)) await import(name);
console.log('  imported ' + JSON.parse(process.env.SMOKE_PACKAGES).join(', ') + ', @fdloop/core/testing');

// Modules, as a user of core + a backend + a module would write them: each through rt.use(), on the thread pool.
const installedNames = JSON.parse(process.env.SMOKE_PACKAGES);
let modules = 0;
if (installedNames.includes('@fdloop/mod-crypto')) {
  const { cryptoModule } = await import('@fdloop/mod-crypto');
  const rt = createRuntime();
  const crypto = rt.use(cryptoModule());
  const digest = await crypto.hash('sha256', 'abc');
  assert.equal(digest.toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', 'mod-crypto sha256("abc") (FIPS 180-2)');
  await rt.close();
  console.log('  mod-crypto: sha256 on the thread pool OK');
  modules += 1;
}
if (installedNames.includes('@fdloop/mod-fs')) {
  const { fsModule } = await import('@fdloop/mod-fs');
  const { fileURLToPath } = await import('node:url');
  const rt = createRuntime();
  const fs = rt.use(fsModule());
  const text = await fs.readFile(fileURLToPath(import.meta.url), 'utf8');
  assert.ok(text.startsWith('// Written by scripts/tarball-smoke.mjs'), 'mod-fs readFile of this script');
  await rt.close();
  console.log('  mod-fs: readFile through ' + fs.io + ' OK');
  modules += 1;
}
assert.ok(modules > 0, 'at least one module (mod-crypto, mod-fs) installed from its tarball and used');

const require = createRequire(import.meta.url);
const addons = Object.keys(require.cache).filter((file) => file.endsWith('fdloop_epoll.node'));
assert.equal(addons.length, 1, 'one backend-epoll addon loaded: ' + addons.join(', '));
const loaded = addons[0].split('/node_modules/@fdloop/backend-epoll/')[1];
console.log('  addon loaded from ' + loaded);
assert.ok(loaded.startsWith(process.env.EXPECT_ADDON), 'expected the addon from ' + process.env.EXPECT_ADDON);
console.log('OK');
`;

const CJS_PROGRAM = `// CommonJS consumers: require(esm) of these ESM-only packages (Node >= 20.19).
const assert = require('node:assert/strict');
const core = require('@fdloop/core');
const { epoll } = require('@fdloop/backend-epoll');
assert.equal(typeof core.createRuntime, 'function');
assert.equal(core.createRuntime({ backend: epoll() }).backend.name, 'epoll');
console.log('  require() from CommonJS OK');
`;

/**
 * `npm init -y`, then approve the install scripts of the tarballs that have one, as a user does with
 * `npm install-scripts approve` (npm 11 warns about unapproved install scripts and can be set to block them).
 * For a tarball the approval is keyed by its `file:` spec; from the registry it is the package name.
 */
function makeProject(name, files) {
  const project = join(scratch, name);
  mkdirSync(project);
  run(npmNode, [npmCli, 'init', '-y'], { cwd: project, env: makeEnv(barePath), capture: true });
  const manifest = JSON.parse(readFileSync(join(project, 'package.json'), 'utf8'));
  manifest.allowScripts = {};
  for (const file of files) {
    const t = installable.find((x) => basename(x.file) === basename(file));
    if (t && hasInstallScript(t)) manifest.allowScripts[`file:${file}`] = true;
  }
  writeFileSync(join(project, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);
  writeFileSync(join(project, 'smoke.mjs'), PROGRAM);
  writeFileSync(join(project, 'smoke.cjs'), CJS_PROGRAM);
  return project;
}

function runProgram(project, env, expectAddon, installed) {
  const t = performance.now();
  const packages = JSON.stringify(installed.map((x) => x.name));
  for (const file of ['smoke.mjs', 'smoke.cjs']) {
    const programEnv = { ...env, EXPECT_ADDON: expectAddon, SMOKE_PACKAGES: packages };
    const result = run(process.execPath, [file], { cwd: project, env: programEnv, tee: true, allowFailure: true });
    if (!result.ok) fail(`${file} failed in ${project}`);
    if (/ExperimentalWarning/.test(result.stderr)) console.log('  note: Node printed an ExperimentalWarning (above)');
  }
  console.log(`  (program: ${seconds(t)})`);
}

function installedPackage(project) {
  return join(project, 'node_modules', '@fdloop', 'backend-epoll');
}

/** Every tarball's package resolves to that tarball (not the registry) and is installed once, at the top. */
function checkResolution(project, installed) {
  const lock = JSON.parse(readFileSync(join(project, 'package-lock.json'), 'utf8'));
  for (const t of installed) {
    const entry = lock.packages[`node_modules/${t.name}`];
    check(entry?.resolved?.startsWith('file:') && entry.version === t.manifest.version, `${t.name}@${t.manifest.version} installed from ${entry?.resolved}`);
    const nested = Object.keys(lock.packages).filter((k) => k.endsWith(`/node_modules/${t.name}`));
    if (nested.length) fail(`${t.name} is also installed nested (${nested.join(', ')}): a dependency range does not match the tarball`);
  }
}

const timings = [];

// --- (a) the prebuilt binary, no toolchain on PATH -----------------------------------------------------------------

let projectA;
if (only.has('a') || only.has('c')) {
  const t = performance.now();
  console.log('\n== (a) install with the prebuilt binary, no compiler on PATH');
  for (const tool of COMPILERS) if (which(tool, barePath)) fail(`${tool} is on the bare PATH`);
  console.log(`  PATH=${barePath} (only node and sh; none of ${COMPILERS.join(', ')})`);
  if (!prebuiltSet.includes(epollTarball)) fail('@fdloop/backend-epoll would compile');
  const env = makeEnv(barePath);
  const files = prebuiltSet.map((x) => x.file);
  projectA = makeProject('a-prebuilt', files);
  const output = npmIn(projectA, ['install', ...files, ...NPM_FLAGS], env);
  check(/@fdloop\/backend-epoll: using the prebuilt binary prebuilds\/[^ ]+\/fdloop_epoll\.node; not compiling/.test(output), 'install used the prebuilt binary');
  check(!/compiling the native addon from source/.test(output), 'install did not compile');
  check(!existsSync(join(installedPackage(projectA), 'build')), 'no build/ directory in the installed package');
  checkResolution(projectA, prebuiltSet);
  runProgram(projectA, env, `prebuilds/${target}/`, prebuiltSet);
  timings.push(['(a) prebuilt, no compiler', seconds(t)]);
}

// --- (b) no prebuild: compile from source, offline ---------------------------------------------------------------

if (only.has('b')) {
  const t = performance.now();
  console.log('\n== (b) install from tarballs without prebuilds/: compile from source');
  const variants = join(scratch, 'no-prebuilds');
  mkdirSync(variants);
  const files = installable.map((x) => {
    if (x.prebuilds.length === 0) return x.file;
    const dir = join(variants, x.name.replace('/', '__'));
    mkdirSync(dir);
    run('tar', ['-xzf', x.file, '-C', dir]);
    rmSync(join(dir, 'package', 'prebuilds'), { recursive: true, force: true });
    const packed = JSON.parse(run(npmNode, [npmCli, 'pack', '--json', '--ignore-scripts', '--pack-destination', dir], { cwd: join(dir, 'package'), capture: true, env: makeEnv(process.env.PATH) }).stdout)[0];
    if (packed.files.some((f) => f.path.startsWith('prebuilds/'))) fail(`the repacked ${x.name} still has prebuilds/`);
    console.log(`  repacked ${x.name} without prebuilds/: ${packed.filename}, ${packed.entryCount} files`);
    return join(dir, packed.filename);
  });
  // Full PATH (cmake, g++), but header downloads would go to a dead address.
  const env = makeEnv(process.env.PATH, { NVM_NODEJS_ORG_MIRROR: 'http://127.0.0.1:9/no-downloads' });
  const projectB = makeProject('b-source', files);
  const output = npmIn(projectB, ['install', ...files, ...NPM_FLAGS], env);
  check(/@fdloop\/backend-epoll: compiling the native addon from source: no prebuilt binary for /.test(output), 'install compiled from source');
  check(/Node headers from \//.test(output), 'with Node headers from a local directory');
  check(existsSync(join(installedPackage(projectB), 'build', 'Release', 'fdloop_epoll.node')), 'build/Release/fdloop_epoll.node exists');
  check(!existsSync(join(installedPackage(projectB), 'prebuilds')), 'no prebuilds/ in the installed package');
  checkResolution(projectB, installable);
  runProgram(projectB, env, 'build/Release/', installable);
  timings.push(['(b) compile from source', seconds(t)]);
}

// --- (c) a prebuild that does not load: fall back to compiling ----------------------------------------------------

if (only.has('c')) {
  const t = performance.now();
  console.log('\n== (c) the prebuilt binary does not load here: npm rebuild compiles from source');
  const prebuilt = join(installedPackage(projectA), 'prebuilds', target, 'fdloop_epoll.node');
  // Make it need a glibc from the future, as a binary built on a newer distribution would: rename one of its
  // GLIBC_2.x version requirements to GLIBC_9.9 (same length). dlopen then fails with the real-world message
  // "version `GLIBC_9.9' not found". Without such a string, garbage gives "invalid ELF header".
  const text = readFileSync(prebuilt).toString('latin1');
  const match = /GLIBC_2\.[0-9.]+\0/.exec(text);
  const patched = match
    ? text.slice(0, match.index) + match[0].replace(/[0-9]/g, '9') + text.slice(match.index + match[0].length)
    : 'not an ELF file';
  writeFileSync(prebuilt, Buffer.from(patched, 'latin1'));
  chmodSync(prebuilt, 0o755);
  console.log(`  patched ${relative(projectA, prebuilt)}: ${match ? `${match[0].slice(0, -1)} -> ${match[0].slice(0, -1).replace(/[0-9]/g, '9')}` : 'replaced by garbage'}`);
  const env = makeEnv(process.env.PATH, { NVM_NODEJS_ORG_MIRROR: 'http://127.0.0.1:9/no-downloads' });
  const output = npmIn(projectA, ['rebuild', '@fdloop/backend-epoll', ...NPM_FLAGS], env);
  check(/compiling the native addon from source: the prebuilt binary prebuilds\/[^ ]+ does not load here/.test(output), 'install noticed the broken prebuild and compiled');
  check(existsSync(join(installedPackage(projectA), 'build', 'Release', 'fdloop_epoll.node')), 'build/Release/fdloop_epoll.node exists');
  runProgram(projectA, env, 'build/Release/', prebuiltSet);
  timings.push(['(c) broken prebuild -> compile', seconds(t)]);
}

// --- (d) install scripts not run: the prebuild still works -------------------------------------------------------

if (only.has('d')) {
  const t = performance.now();
  console.log('\n== (d) install with --ignore-scripts (scripts blocked or not approved): the prebuild loads anyway');
  const env = makeEnv(barePath);
  const files = prebuiltSet.map((x) => x.file);
  const projectD = makeProject('d-ignore-scripts', []);
  const output = npmIn(projectD, ['install', ...files, '--ignore-scripts', ...NPM_FLAGS], env);
  check(!/@fdloop\/backend-epoll: /.test(output), 'the install script did not run');
  runProgram(projectD, env, `prebuilds/${target}/`, prebuiltSet);
  timings.push(['(d) --ignore-scripts, prebuilt', seconds(t)]);
}

if (!keep) rmSync(scratch, { recursive: true, force: true });
console.log('\n== timings');
for (const [label, time] of timings) console.log(`  ${label.padEnd(32)} ${time}`);
console.log(`== tarball smoke OK in ${seconds(started)}${keep ? `; projects kept in ${scratch}` : ''}`);
