#!/usr/bin/env node
// What a cached nx task's output depends on outside the repository, printed as text for nx to hash.
//
//   node scripts/env-probe.mjs node         # Node's version, N-API, platform, arch and libc
//   node scripts/env-probe.mjs native       # Node, N-API, arch/libc, cmake, the C++ compiler, Node's headers
//   node scripts/env-probe.mjs mosquitto    # native + libmosquitto's header and library
//   node scripts/env-probe.mjs mingw        # native + the mingw-w64 cross compiler (backend-iocp's Windows addon)
//   node scripts/env-probe.mjs test         # Node, the kernel, and the system tools the test suites drive
//
// nx.json and the projects' package.json declare these as `{ "runtime": "node scripts/env-probe.mjs …" }` inputs,
// so a task whose result came from a machine without a header, a compiler or a tool is not restored from the cache
// once the machine has changed (issue 15: a build cached while mosquitto.h was missing was restored after it was
// installed). Keep it fast (it runs once per command per nx run) and deterministic: versions and content hashes,
// never times.

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

import { findMosquitto } from '../examples/mosquitto/scripts/find-mosquitto.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** The first line a command prints of its version, or "absent". */
function version(cmd, args = ['--version']) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  // Some tools print their version with a non-zero status (mosquitto -h); only "could not start" means absent.
  if (r.error) return 'absent';
  const lines = `${r.stdout}${r.stderr}`.split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.find((l) => /\d+\.\d+/.test(l)) ?? lines[0] ?? 'present';
}

function fileHash(path) {
  if (!path || !existsSync(path)) return 'absent';
  return createHash('sha256').update(readFileSync(path)).digest('hex').slice(0, 16);
}

function libc() {
  const report = process.report?.getReport?.();
  const glibc = report?.header?.glibcVersionRuntime;
  return glibc ? `glibc ${glibc}` : process.platform === 'linux' ? 'musl-or-other' : process.platform;
}

function nodeLines() {
  return [
    `node ${process.version} modules ${process.versions.modules} napi ${process.versions.napi}`,
    `platform ${process.platform}-${process.arch} ${libc()}`,
  ];
}

function nativeLines() {
  const nodedir = process.env.npm_config_nodedir ?? '';
  const headers = [nodedir && join(nodedir, 'include/node/node_api.h'), '/usr/include/node/node_api.h'].find(
    (p) => p && existsSync(p),
  );
  return [
    ...nodeLines(),
    `cmake ${version('cmake')}`,
    `cxx ${version(process.env.CXX || 'c++')}`,
    `ninja ${version('ninja')}`,
    `node_api.h ${fileHash(headers)}`,
    `env CXX=${process.env.CXX ?? ''} CXXFLAGS=${process.env.CXXFLAGS ?? ''} FDLOOP_SANITIZE=${process.env.FDLOOP_SANITIZE ?? ''}`,
  ];
}

function mosquittoLines() {
  const found = findMosquitto();
  return [...nativeLines(), `mosquitto.h ${fileHash(found.header)}`, `libmosquitto ${found.library ?? 'absent'}`];
}

function mingwLines() {
  return [...nativeLines(), `mingw ${version('x86_64-w64-mingw32-g++-posix')}`];
}

/** The system tools the test suites drive (scripts/system-packages.txt, group test), and how each tells its version. */
const TOOL_VERSION_ARGS = { socat: ['-V'], mosquitto: ['-h'], wrk: ['-v'], curl: ['-V'], openssl: ['version'] };

function testLines() {
  const tools = Object.entries(TOOL_VERSION_ARGS).map(([tool, args]) => `${tool} ${version(tool, args)}`);
  const release = existsSync('/proc/sys/kernel/osrelease') ? readFileSync('/proc/sys/kernel/osrelease', 'utf8').trim() : 'n/a';
  return [...nodeLines(), `kernel ${release}`, ...tools, `mosquitto.h ${fileHash(findMosquitto().header)}`];
}

const kinds = { node: nodeLines, native: nativeLines, mosquitto: mosquittoLines, mingw: mingwLines, test: testLines };
const kind = process.argv[2] ?? '';
if (!(kind in kinds)) {
  console.error(`usage: node scripts/env-probe.mjs ${Object.keys(kinds).join('|')}`);
  process.exit(2);
}
process.chdir(root);
console.log(kinds[kind]().join('\n'));
