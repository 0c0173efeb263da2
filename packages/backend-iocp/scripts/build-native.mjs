// The native half of `npm run build`. Windows: cmake-js + MSVC. Linux: the mingw-w64 cross build when the
// toolchain is installed (CI's ci-wine.sh installs it), otherwise a clear skip — this package's addon is a
// Windows binary, and the Linux host needs it only to run the Wine suite.
import console from 'node:console';
import process from 'node:process';
import { crossBuild, crossBuildMissing, fail, msvcBuild } from './native.mjs';

if (process.platform === 'win32') {
  try {
    msvcBuild();
  } catch (error) {
    fail('building the native addon with cmake-js (needs cmake >= 3.15 and Visual Studio C++ tools)', error);
  }
} else if (process.platform === 'linux') {
  const missing = crossBuildMissing();
  if (missing) {
    console.log(`@fdloop/backend-iocp: skipping the mingw-w64 cross build of the Windows addon: ${missing}.`);
  } else {
    try {
      console.log('@fdloop/backend-iocp: cross-compiling the Windows addon with mingw-w64 (build-mingw/)');
      crossBuild();
    } catch (error) {
      fail('the mingw-w64 cross build', error);
    }
  }
} else {
  console.log(`@fdloop/backend-iocp: the Windows addon is not built on ${process.platform}.`);
}
