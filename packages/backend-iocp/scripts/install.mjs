// npm "install" script. On Windows: use a shipped prebuild if present, else an existing build, else compile with
// cmake-js + MSVC. Anywhere else there is nothing to build at install time (a monorepo checkout on Linux
// cross-compiles in `npm run build` when mingw-w64 is installed).
import console from 'node:console';
import { existsSync } from 'node:fs';
import process from 'node:process';
import { addonPath, fail, msvcBuild, prebuiltPath } from './native.mjs';

if (process.platform !== 'win32') {
  console.log(`@fdloop/backend-iocp: I/O completion ports are Windows-only; nothing to build on ${process.platform}.`);
} else if (existsSync(prebuiltPath)) {
  console.log('@fdloop/backend-iocp: using the prebuilt binary; not compiling.');
} else if (existsSync(addonPath)) {
  console.log('@fdloop/backend-iocp: using the existing build; not compiling.');
} else {
  try {
    msvcBuild();
  } catch (error) {
    fail('compiling the native addon (needs cmake >= 3.15 and Visual Studio C++ tools; then `npm rebuild @fdloop/backend-iocp`)', error);
  }
}
