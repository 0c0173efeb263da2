// This package's addon, for the shared native-addon plumbing in @fdloop/native-build (the cmake-js driver,
// offline against Node's local headers; the install step). The scripts next to this file are thin
// wrappers around it.

import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import { buildAddon } from '@fdloop/native-build';

/** The package root (where CMakeLists.txt lives). */
export const packageRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The package name, printed before every message. */
export const NAME = '@fdloop/backend-poll';

/** The addon's file name, wherever it is built or shipped. */
export const ADDON = 'fdloop_poll.node';

/** What a working addon exports (checked when it is loaded in a child process). */
export const EXPORTS = { Poller: 'function', readHangup: 'boolean' };

/** The addon, for @fdloop/native-build's installAddon() and prebuildAddon(). */
export const addon = { packageRoot, name: NAME, addon: ADDON, expect: EXPORTS };

/**
 * An incremental cmake-js build of the addon into build/Release (exits with a readable message on failure).
 * @param {string} why shown before the build starts
 */
export function buildNative(why) {
  return buildAddon({ packageRoot, name: NAME, addon: ADDON, why });
}
