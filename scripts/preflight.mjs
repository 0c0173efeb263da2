#!/usr/bin/env node
// The system packages a step needs, from the one list in scripts/system-packages.txt.
//
//   node scripts/preflight.mjs                  # groups build + test: what `npm test` needs (it runs this first)
//   node scripts/preflight.mjs --groups wine    # one CI step's group
//   node scripts/preflight.mjs --all            # every group (.ci/run)
//   node scripts/preflight.mjs --check          # report only: exit 1 naming what is missing, install nothing
//
// Missing packages are installed with apt-get when this runs as root on Debian/Ubuntu (what a fresh machine of
// this project's kind is). Anywhere else it stops at once with the exact command to run. FDLOOP_SKIP_PREFLIGHT=1
// skips it (for machines where the tools come from elsewhere; tests that need a missing tool then fail).
// Plain Node, no dependencies: it runs before `npm ci` in .ci/run.

import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, readdirSync, readFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

const LIST = join(dirname(fileURLToPath(import.meta.url)), 'system-packages.txt');
const DEFAULT_GROUPS = ['build', 'test'];

/** Every row of the list: `{ group, pkg, probe, why }`. */
export function readList(file = LIST) {
  const rows = [];
  for (const [i, raw] of readFileSync(file, 'utf8').split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const [group, pkg, probe, ...why] = line.split(/\s+/);
    if (!group || !pkg || !probe || !/^(cmd:.+|file:\/.+|dpkg)$/.test(probe)) {
      throw new Error(`${file}:${i + 1}: expected "group package probe why", got: ${raw}`);
    }
    rows.push({ group, pkg, probe, why: why.join(' ') });
  }
  return rows;
}

function onPath(name) {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (!dir) continue;
    try {
      accessSync(join(dir, name), constants.X_OK);
      return true;
    } catch {
      // not in this directory
    }
  }
  return false;
}

function dpkgInstalled(pkg) {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}', pkg], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

/** Whether the row's probe finds its package on this machine. */
export function present(row) {
  if (row.probe.startsWith('cmd:')) return onPath(row.probe.slice(4));
  if (row.probe.startsWith('file:')) return existsSync(row.probe.slice(5));
  return dpkgInstalled(row.pkg);
}

function parseArgs(argv) {
  const opts = { groups: DEFAULT_GROUPS, all: false, check: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--all') opts.all = true;
    else if (a === '--check') opts.check = true;
    else if (a === '--groups' || a === '--group') opts.groups = (argv[++i] ?? '').split(',').filter(Boolean);
    else if (a.startsWith('--groups=')) opts.groups = a.slice(9).split(',').filter(Boolean);
    else throw new Error(`preflight: unknown argument ${a}`);
  }
  return opts;
}

function aptListsEmpty() {
  try {
    return !readdirSync('/var/lib/apt/lists').some((f) => f.endsWith('_Packages') || f.endsWith('_Packages.lz4'));
  } catch {
    return true;
  }
}

function apt(args) {
  // One apt run at a time on the machine (CI steps and parallel checkouts share dpkg's lock, which apt-get
  // would otherwise fail on instead of waiting for).
  const cmd = onPath('flock') ? ['flock', '/tmp/fdloop-apt.lock', 'apt-get', ...args] : ['apt-get', ...args];
  const r = spawnSync(cmd[0], cmd.slice(1), {
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  return { ok: r.status === 0, output: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

function main() {
  const opts = parseArgs(process.argv.slice(2));
  if (process.env.FDLOOP_SKIP_PREFLIGHT === '1') {
    console.log('preflight: skipped (FDLOOP_SKIP_PREFLIGHT=1)');
    return 0;
  }
  if (process.platform !== 'linux') {
    console.log(`preflight: nothing to check on ${process.platform} (the list is for Debian/Ubuntu)`);
    return 0;
  }
  const rows = readList().filter((r) => opts.all || opts.groups.includes(r.group));
  const wanted = [...new Map(rows.map((r) => [r.pkg, r])).values()];
  const missing = wanted.filter((r) => !present(r));
  const label = opts.all ? 'all groups' : opts.groups.join('+');
  if (missing.length === 0) {
    console.log(`preflight (${label}): all ${wanted.length} system packages present`);
    return 0;
  }
  const names = missing.map((r) => r.pkg);
  const command = `apt-get install -y --no-install-recommends ${names.join(' ')}`;
  const explain = missing.map((r) => `  - ${r.pkg}: ${r.why}`).join('\n');
  const isRoot = typeof process.getuid === 'function' && process.getuid() === 0;
  const debian = existsSync('/etc/debian_version') && onPath('apt-get');
  if (opts.check || !isRoot || !debian) {
    console.error(`preflight (${label}): missing system packages:\n${explain}`);
    if (debian) console.error(`Install them with:\n  ${isRoot ? '' : 'sudo '}apt-get update && ${isRoot ? '' : 'sudo '}${command}`);
    else console.error('Install the equivalent packages with your system package manager.');
    console.error('(or set FDLOOP_SKIP_PREFLIGHT=1 to go on without them; the tests that need them will fail)');
    return 1;
  }
  console.log(`preflight (${label}): installing ${names.join(' ')}`);
  if (aptListsEmpty()) apt(['update']);
  let result = apt(['install', '-y', '--no-install-recommends', ...names]);
  if (!result.ok) {
    // Stale package lists are the usual cause on a machine that has not run apt-get update lately.
    apt(['update']);
    result = apt(['install', '-y', '--no-install-recommends', ...names]);
  }
  const still = missing.filter((r) => !present(r));
  if (!result.ok || still.length > 0) {
    console.error(result.output.split('\n').slice(-25).join('\n'));
    console.error(`preflight (${label}): could not install ${still.map((r) => r.pkg).join(' ') || names.join(' ')}; run:\n  apt-get update && ${command}`);
    return 1;
  }
  console.log(`preflight (${label}): installed ${names.join(' ')}`);
  return 0;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  try {
    process.exitCode = main();
  } catch (err) {
    console.error(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  }
}
