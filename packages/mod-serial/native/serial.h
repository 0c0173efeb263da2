// Declarations shared by the two translation units of fdloop_serial.node. termios2 (custom baud rates through
// BOTHER) needs <asm/termbits.h>, which cannot be included together with glibc's <termios.h>; that code therefore
// lives alone in termios2.cc and talks to the rest through these plain structs.
#pragma once

#include <cstdint>

namespace fdloop::serial {

// Line settings, laid out as the Int32Array the TypeScript layer passes (see src/native.ts, SETTINGS_FIELDS).
enum SettingsIndex : int {
  kBaudRate = 0,  // bits per second, any positive value (BOTHER)
  kDataBits,      // 5..8
  kStopBits,      // 1 or 2
  kParity,        // Parity below
  kRtsCts,        // 0/1: CRTSCTS
  kXon,           // 0/1: IXON (obey XON/XOFF from the peer)
  kXoff,          // 0/1: IXOFF (send XON/XOFF to the peer)
  kXany,          // 0/1: IXANY
  kHupcl,         // 0/1: HUPCL (drop DTR/RTS on last close)
  kSettingsCount
};

enum Parity : int32_t { kParityNone = 0, kParityOdd = 1, kParityEven = 2, kParityMark = 3, kParitySpace = 4 };

// Reads the device's termios2 (TCGETS2) and decodes it into `out` (kSettingsCount values). 0 or -errno
// (-ENOTTY for a descriptor that is not a terminal).
int GetSettings(int fd, int32_t* out);

// Puts the terminal in raw mode with `in`'s settings (TCSETS2, applied at once: TCSETSW2 would block until the
// output drained), then reads them back into `out`. 0 or -errno.
int ApplySettings(int fd, const int32_t* in, int32_t* out);

}  // namespace fdloop::serial
