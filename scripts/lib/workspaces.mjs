// Shared by scripts/pack.mjs, scripts/tarball-smoke.mjs and scripts/publish.mjs: the workspace packages, which of
// them are publishable (not "private"), in dependency order, and small process/format helpers.

import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** Where scripts/pack.mjs leaves the tarballs, and where the smoke test and publish step take them from. */
export const packDir = join(repoRoot, '.work', 'pack');

export function readJson(file) {
  return JSON.parse(readFileSync(file, 'utf8'));
}

const escapeRegExp = (text) => text.replace(/[.+?^${}()|[\]\\]/g, '\\$&');

/** The directories a root "workspaces" pattern names: literal segments and `*` segments (as npm's globs do). */
function expandPattern(pattern) {
  let dirs = [repoRoot];
  for (const segment of pattern.replace(/^\.\//, '').replace(/\/+$/, '').split('/')) {
    const next = [];
    for (const dir of dirs) {
      if (segment === '**') throw new Error(`workspace pattern ${pattern}: '**' is not supported here`);
      if (segment.includes('*')) {
        const re = new RegExp(`^${segment.split('*').map(escapeRegExp).join('[^/]*')}$`);
        for (const entry of readdirSync(dir, { withFileTypes: true })) {
          if (entry.isDirectory() && entry.name !== 'node_modules' && re.test(entry.name)) next.push(join(dir, entry.name));
        }
      } else if (existsSync(join(dir, segment))) {
        next.push(join(dir, segment));
      }
    }
    dirs = next;
  }
  return dirs;
}

/**
 * Every workspace package of the root package.json: `{ name, version, dir, rel, manifest }`, sorted so that a
 * package comes after the workspace packages it depends on.
 */
export function workspacePackages() {
  const root = readJson(join(repoRoot, 'package.json'));
  const patterns = Array.isArray(root.workspaces) ? root.workspaces : (root.workspaces?.packages ?? []);
  const dirs = new Set();
  for (const pattern of patterns.filter((p) => !p.startsWith('!'))) for (const dir of expandPattern(pattern)) dirs.add(dir);
  for (const pattern of patterns.filter((p) => p.startsWith('!'))) for (const dir of expandPattern(pattern.slice(1))) dirs.delete(dir);
  const packages = [...dirs]
    .filter((dir) => existsSync(join(dir, 'package.json')))
    .map((dir) => {
      const manifest = readJson(join(dir, 'package.json'));
      return { name: manifest.name, version: manifest.version, dir, rel: relative(repoRoot, dir), manifest };
    });
  return topoSort(packages);
}

/** The workspace packages that get published: those not marked "private". */
export function publishablePackages() {
  return workspacePackages().filter((pkg) => pkg.manifest.private !== true);
}

function internalDeps(pkg, names) {
  const { dependencies = {}, peerDependencies = {}, optionalDependencies = {} } = pkg.manifest;
  return Object.keys({ ...dependencies, ...peerDependencies, ...optionalDependencies }).filter((n) => names.has(n));
}

function topoSort(packages) {
  const byName = new Map(packages.map((pkg) => [pkg.name, pkg]));
  const names = new Set(byName.keys());
  const sorted = [];
  const state = new Map();
  const visit = (pkg) => {
    if (state.get(pkg.name) === 'done') return;
    if (state.get(pkg.name) === 'visiting') return; // a cycle: keep the order we have
    state.set(pkg.name, 'visiting');
    for (const dep of internalDeps(pkg, names)) visit(byName.get(dep));
    state.set(pkg.name, 'done');
    sorted.push(pkg);
  };
  for (const pkg of [...packages].sort((a, b) => a.rel.localeCompare(b.rel))) visit(pkg);
  return sorted;
}

/**
 * The npm CLI as `[node, npm-cli.js]`, so npm runs with this Node even under a PATH without npm (the smoke test
 * strips PATH down). npm sets npm_execpath for scripts it runs; otherwise npm is looked up on PATH.
 */
export function npmCommand() {
  const fromEnv = process.env.npm_execpath;
  if (fromEnv && /npm-cli\.js$/.test(fromEnv) && existsSync(fromEnv)) return [process.execPath, fromEnv];
  for (const dir of (process.env.PATH ?? '').split(':')) {
    if (!dir) continue;
    const candidate = join(dir, 'npm');
    if (existsSync(candidate)) {
      // npm's bin/npm is a symlink to bin/npm-cli.js in Node's distributions.
      const cli = realpathSync(candidate);
      if (/npm-cli\.js$/.test(cli)) return [process.execPath, cli];
    }
  }
  const guess = join(dirname(process.execPath), '..', 'lib', 'node_modules', 'npm', 'bin', 'npm-cli.js');
  if (existsSync(guess)) return [process.execPath, guess];
  throw new Error('cannot find npm-cli.js (npm is not on PATH next to node)');
}

/**
 * Runs a command; throws with its output if it fails. `capture: true` returns stdout (and echoes nothing);
 * otherwise output is inherited. `tee: true` captures and echoes.
 */
export function run(command, args, options = {}) {
  const { capture = false, tee = false, cwd = repoRoot, env = process.env, allowFailure = false } = options;
  const piped = capture || tee;
  const result = spawnSync(command, args, {
    cwd,
    env,
    encoding: 'utf8',
    stdio: piped ? ['ignore', 'pipe', 'pipe'] : 'inherit',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (tee) {
    process.stdout.write(indent(result.stdout ?? ''));
    process.stdout.write(indent(result.stderr ?? ''));
  }
  const ok = !result.error && result.status === 0;
  if (!ok && !allowFailure) {
    const output = piped && !tee ? `\n${result.stdout ?? ''}${result.stderr ?? ''}` : '';
    throw new Error(
      `${[command, ...args].join(' ')} (in ${cwd}) failed: ${result.error?.message ?? `exit ${result.status ?? result.signal}`}${output}`,
    );
  }
  return { ok, status: result.status, stdout: result.stdout ?? '', stderr: result.stderr ?? '' };
}

export function indent(text, prefix = '    ') {
  if (!text) return '';
  return text.replace(/\n$/, '').split('\n').map((line) => prefix + line).join('\n') + '\n';
}

export function formatBytes(bytes) {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} kB`;
  return `${(bytes / 1024 / 1024).toFixed(2)} MB`;
}

/** Seconds since `start` (a performance.now() value), for the timing lines. */
export function seconds(start) {
  return `${((performance.now() - start) / 1000).toFixed(1)} s`;
}
