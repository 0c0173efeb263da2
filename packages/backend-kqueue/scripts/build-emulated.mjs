// Test-only: builds the addon on Linux against the kqueue emulation in test/emulation (build/emulated/Release).
// Never part of the published package; see test/emulation/README.md.

import { buildNative } from './cmake-js.mjs';

buildNative('building the emulated-kqueue test addon (Linux, test only; incremental)', { emulation: true });
