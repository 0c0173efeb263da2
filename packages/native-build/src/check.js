// Loading a built or prebuilt addon in a child process: a binary built against a newer glibc, or for another libc,
// fails only in dlopen, and a child keeps that failure (or a crash) out of the installing process.

import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import process from 'node:process';

const CHECK = `
const m = require(process.argv[1]);
const expect = JSON.parse(process.argv[2]);
const wrong = Object.entries(expect).filter(([key, type]) => m[key] === null || typeof m[key] !== type);
if (wrong.length > 0) {
  throw new Error('unexpected exports: ' + Object.keys(m).join(', ') + ' (expected ' +
    wrong.map(([key, type]) => key + ': ' + type).join(', ') + ')');
}`;

/**
 * @typedef {Record<string, 'function' | 'object' | 'string' | 'number' | 'boolean'>} AddonExports What an addon
 *   must export for {@link checkAddon} to accept it: export name to the `typeof` it must have (`'object'` also
 *   rejects `null`). Example: `{ Poller: 'function', sys: 'object' }`.
 */

/**
 * @typedef {object} AddonLoads {@link checkAddon}'s result when the addon loads.
 * @property {true} ok always `true`
 */

/**
 * @typedef {object} AddonFails {@link checkAddon}'s result when the addon does not load.
 * @property {false} ok always `false`
 * @property {string} reason the first error line of the child process, or `'not found'`
 */

/**
 * @typedef {AddonLoads | AddonFails} AddonCheck The outcome of {@link checkAddon}.
 */

/**
 * Whether the addon at `file` loads into this Node and has the expected exports. It is tried in a child process,
 * so a glibc or libc mismatch (which shows only in dlopen) cannot affect the caller.
 * @param {string} file absolute path of the `.node` file
 * @param {AddonExports} [expect] the exports it must have; default `{}` (loading is enough)
 * @returns {AddonCheck} `{ ok: true }`, or `{ ok: false, reason }` with the first error line of the child
 *   (`'not found'` when the file does not exist)
 * @example
 * ```ts
 * const result = checkAddon('/path/to/build/Release/my_addon.node', { hello: 'function' });
 * if (!result.ok) console.error(result.reason);
 * ```
 */
export function checkAddon(file, expect = {}) {
  if (!existsSync(file)) return { ok: false, reason: 'not found' };
  const result = spawnSync(process.execPath, ['-e', CHECK, file, JSON.stringify(expect)], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  if (result.error) return { ok: false, reason: result.error.message };
  if (result.status === 0) return { ok: true };
  const lines = `${result.stderr}`.split('\n').map((line) => line.trim());
  const reason =
    lines.find((line) => /^(\w*Error|Error)\b/.test(line)) ??
    lines.filter(Boolean).pop() ??
    `exited with ${result.signal ?? result.status}`;
  return { ok: false, reason };
}
