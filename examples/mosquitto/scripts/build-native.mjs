// The native half of `npm run build`: an incremental cmake-js build of fdloop_mosquitto.node into build/Release,
// offline, against Node's local headers (buildAddon() of @fdloop/native-build, as for @fdloop/backend-epoll).

import console from 'node:console';
import { dirname, resolve } from 'node:path';
import process from 'node:process';
import { fileURLToPath } from 'node:url';

import { buildAddon } from '@fdloop/native-build';

import { findMosquitto } from './find-mosquitto.mjs';

const NAME = '@fdloop/example-mosquitto';

// Without libmosquitto's headers, skip the addon rather than fail the whole monorepo install (the root postinstall
// builds every workspace): the example's tests then fail with a message saying what to install. CI sets
// FDLOOP_REQUIRE_MOSQUITTO=1 so that a missing library fails the build instead. Whether the header is there is
// part of this build's nx cache key (scripts/env-probe.mjs mosquitto asks findMosquitto() too), so a skipped
// build is never restored once libmosquitto-dev is installed.
if (!findMosquitto().header) {
  const message = `${NAME}: libmosquitto's headers (mosquitto.h) are not installed; install libmosquitto-dev to build this example`;
  if (process.env.FDLOOP_REQUIRE_MOSQUITTO === '1') {
    console.error(message);
    process.exit(1);
  }
  console.warn(`${message} (skipped)`);
  process.exit(0);
}

buildAddon({
  packageRoot: resolve(dirname(fileURLToPath(import.meta.url)), '..'),
  name: NAME,
  addon: 'fdloop_mosquitto.node',
  why: 'building the native addon (incremental)',
  headers: ['node.h', 'node_api.h'],
  needs: 'cmake >= 3.15, a C++17 compiler and libmosquitto-dev',
});
