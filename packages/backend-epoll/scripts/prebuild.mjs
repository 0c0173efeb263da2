// Release step (not shipped, not run by npm install): a clean, stripped Release binary of the addon in
// <dir>/prebuilds/<platform>-<arch>/, compiled from the staged copy <dir> that scripts/pack.mjs makes; see
// prebuildAddon() in @fdloop/native-build.
//
//   node scripts/prebuild.mjs <dir>        # or: npm run pack:prebuild -w @fdloop/backend-epoll -- <dir>

import process from 'node:process';

import { prebuildAddonMain } from '@fdloop/native-build';

import { addon } from './cmake-js.mjs';

prebuildAddonMain({ ...addon, stage: process.argv[2] });
