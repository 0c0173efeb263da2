/*
 * Test infrastructure for CI under Wine only; never shipped, never loaded on real Windows.
 *
 * Rust programs built with Rust >= 1.78 (vitest's bundler rolldown and lightningcss ship such Windows binaries)
 * import ProcessPrng from bcryptprimitives.dll. Windows 10+ has it; Wine 8 (Debian 12) does not (Wine 9 added
 * it), so those binaries fail to load. ci-wine.sh compiles this file with mingw-w64 into the Wine prefix's
 * system32. ProcessPrng fills a buffer from the system RNG and, as documented, always returns TRUE; we forward
 * to BCryptGenRandom, which Wine implements.
 */
#include <windows.h>
#include <bcrypt.h>

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T size) {
  while (size > 0) {
    ULONG chunk = size > 0x40000000 ? 0x40000000 : (ULONG)size;
    if (BCryptGenRandom(NULL, data, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG) != 0) return FALSE;
    data += chunk;
    size -= chunk;
  }
  return TRUE;
}
