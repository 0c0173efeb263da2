// The workspaces the matrix tests: every workspace of the root package.json that has a "test" script, in the
// order the root lists them. A test script that is vitest (`vitest`, `vitest run ...`) is run through vitest's
// CLI directly under the chosen Node; any other test script is run with `npm run test` with that Node first on
// PATH, and judged by its exit code alone.

import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

function expand(root, pattern) {
  const clean = pattern.replace(/\/+$/, '');
  if (!clean.includes('*')) return [clean];
  // Only the `dir/*` form npm workspaces mostly use; anything richer is listed as it is and skipped if absent.
  const match = /^(.*)\/\*$/.exec(clean);
  if (match === null || match[1].includes('*')) return [clean];
  const base = join(root, match[1]);
  if (!existsSync(base)) return [];
  return readdirSync(base, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => `${match[1]}/${entry.name}`)
    .sort();
}

/** Walk up from dir to the first node_modules/vitest/vitest.mjs, as Node's resolution would. */
function findVitest(dir, root) {
  let current = dir;
  for (;;) {
    const candidate = join(current, 'node_modules', 'vitest', 'vitest.mjs');
    if (existsSync(candidate)) return candidate;
    const parent = dirname(current);
    if (parent === current || relative(root, current) === '') return undefined;
    current = parent;
  }
}

/**
 * @param {string} root the monorepo root
 * @returns {{ name: string, dir: string, rel: string, script: string, vitest?: { cli: string, args: string[] } }[]}
 */
export function testedWorkspaces(root) {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const patterns = Array.isArray(manifest.workspaces) ? manifest.workspaces : (manifest.workspaces?.packages ?? []);
  const seen = new Set();
  const found = [];
  for (const rel of patterns.flatMap((pattern) => expand(root, pattern))) {
    if (seen.has(rel)) continue;
    seen.add(rel);
    const dir = join(root, rel);
    const file = join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8'));
    const script = pkg.scripts?.test;
    if (typeof script !== 'string' || script.trim() === '') continue;
    const entry = { name: pkg.name ?? rel, dir, rel, script };
    // `vitest` and `vitest run` (plus flags) are the same command under `npm test` (no TTY, CI or not), so both
    // become `vitest run <flags>`; a script that chains commands (&&, ;, |) goes through npm instead.
    const words = script.trim().split(/\s+/);
    if (words[0] === 'vitest' && !/[;&|<>`$]/.test(script)) {
      const cli = findVitest(dir, root);
      if (cli !== undefined) {
        const rest = words.slice(1);
        if (rest[0] === 'run') rest.shift();
        entry.vitest = { cli, args: ['run', ...rest] };
      }
    }
    found.push(entry);
  }
  return found;
}
