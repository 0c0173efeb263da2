// The native half of `npm run build`: an incremental cmake-js build that reuses build/ (configuring it first if
// needed).

import { buildNative } from './cmake-js.mjs';

buildNative('building the native addon (incremental)');
