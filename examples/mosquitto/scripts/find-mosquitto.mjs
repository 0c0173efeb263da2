// Where libmosquitto's header and library are on this machine: one answer for the build script (compile or skip)
// and for the repository's nx cache probe (scripts/env-probe.mjs), so the two can never disagree about whether
// the example can be built.

import { existsSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';

const splitPath = (value) => (value ?? '').split(':').filter(Boolean);

/**
 * The directories searched for mosquitto.h: only FDLOOP_MOSQUITTO_INCLUDE_DIR when it is set (a libmosquitto
 * outside the system's paths, or none at all for a test), else CPATH and the system's include directories.
 */
export function mosquittoIncludeDirs(env = process.env) {
  if (env.FDLOOP_MOSQUITTO_INCLUDE_DIR !== undefined) return splitPath(env.FDLOOP_MOSQUITTO_INCLUDE_DIR);
  return [...splitPath(env.CPATH), '/usr/include', '/usr/local/include'];
}

const LIBRARY_DIRS = ['/usr/lib/x86_64-linux-gnu', '/usr/lib/aarch64-linux-gnu', '/usr/lib/arm-linux-gnueabihf', '/usr/lib', '/usr/local/lib', '/usr/lib64'];

/** `{ header, library }`: the paths found, `undefined` for what is missing. */
export function findMosquitto(env = process.env) {
  const header = mosquittoIncludeDirs(env).map((dir) => join(dir, 'mosquitto.h')).find((p) => existsSync(p));
  const library = LIBRARY_DIRS.map((dir) => join(dir, 'libmosquitto.so')).find((p) => existsSync(p));
  return { header, library };
}
