// termios2 through the kernel's own definitions. <asm/termbits.h> defines `struct termios2` and BOTHER but clashes
// with glibc's <termios.h> (two different `struct termios`), so this file includes only kernel headers and
// declares ioctl(2) itself.
#include <asm/ioctls.h>
#include <asm/termbits.h>

#include <cerrno>
#include <cstdint>

#include "serial.h"

extern "C" int ioctl(int fd, unsigned long request, ...);

namespace fdloop::serial {

namespace {

int Ioctl(int fd, unsigned long request, termios2* tio) {
  for (;;) {
    if (ioctl(fd, request, tio) == 0) return 0;
    if (errno != EINTR) return -errno;
  }
}

void Decode(const termios2& tio, int32_t* out) {
  out[kBaudRate] = static_cast<int32_t>(tio.c_ospeed);
  switch (tio.c_cflag & CSIZE) {
    case CS5: out[kDataBits] = 5; break;
    case CS6: out[kDataBits] = 6; break;
    case CS7: out[kDataBits] = 7; break;
    default: out[kDataBits] = 8; break;
  }
  out[kStopBits] = (tio.c_cflag & CSTOPB) != 0 ? 2 : 1;
  if ((tio.c_cflag & PARENB) == 0) {
    out[kParity] = kParityNone;
  } else if ((tio.c_cflag & CMSPAR) != 0) {
    out[kParity] = (tio.c_cflag & PARODD) != 0 ? kParityMark : kParitySpace;
  } else {
    out[kParity] = (tio.c_cflag & PARODD) != 0 ? kParityOdd : kParityEven;
  }
  out[kRtsCts] = (tio.c_cflag & CRTSCTS) != 0 ? 1 : 0;
  out[kXon] = (tio.c_iflag & IXON) != 0 ? 1 : 0;
  out[kXoff] = (tio.c_iflag & IXOFF) != 0 ? 1 : 0;
  out[kXany] = (tio.c_iflag & IXANY) != 0 ? 1 : 0;
  out[kHupcl] = (tio.c_cflag & HUPCL) != 0 ? 1 : 0;
}

}  // namespace

int GetSettings(int fd, int32_t* out) {
  termios2 tio{};
  const int rc = Ioctl(fd, TCGETS2, &tio);
  if (rc < 0) return rc;
  Decode(tio, out);
  return 0;
}

int ApplySettings(int fd, const int32_t* in, int32_t* out) {
  termios2 tio{};
  int rc = Ioctl(fd, TCGETS2, &tio);
  if (rc < 0) return rc;

  // Raw mode, as cfmakeraw(3): no line editing, no echo, no signals, no CR/NL translation, 8-bit clean.
  tio.c_iflag &= ~static_cast<tcflag_t>(IGNBRK | BRKINT | PARMRK | ISTRIP | INLCR | IGNCR | ICRNL | IXON | IXOFF |
                                        IXANY | INPCK | IUCLC | IMAXBEL);
  tio.c_oflag &= ~static_cast<tcflag_t>(OPOST);
  tio.c_lflag &= ~static_cast<tcflag_t>(ECHO | ECHONL | ICANON | ISIG | IEXTEN);
  tio.c_cflag &= ~static_cast<tcflag_t>(CSIZE | PARENB | PARODD | CMSPAR | CSTOPB | CRTSCTS | HUPCL);
  // CLOCAL: ignore modem control lines, so a missing DCD never blocks or hangs up the port; CREAD: receive.
  tio.c_cflag |= CLOCAL | CREAD;

  switch (in[kDataBits]) {
    case 5: tio.c_cflag |= CS5; break;
    case 6: tio.c_cflag |= CS6; break;
    case 7: tio.c_cflag |= CS7; break;
    default: tio.c_cflag |= CS8; break;
  }
  if (in[kStopBits] == 2) tio.c_cflag |= CSTOPB;
  switch (in[kParity]) {
    case kParityOdd: tio.c_cflag |= PARENB | PARODD; break;
    case kParityEven: tio.c_cflag |= PARENB; break;
    case kParityMark: tio.c_cflag |= PARENB | CMSPAR | PARODD; break;
    case kParitySpace: tio.c_cflag |= PARENB | CMSPAR; break;
    default: break;
  }
  if (in[kParity] != kParityNone) tio.c_iflag |= INPCK;
  if (in[kRtsCts] != 0) tio.c_cflag |= CRTSCTS;
  if (in[kXon] != 0) tio.c_iflag |= IXON;
  if (in[kXoff] != 0) tio.c_iflag |= IXOFF;
  if (in[kXany] != 0) tio.c_iflag |= IXANY;
  if (in[kHupcl] != 0) tio.c_cflag |= HUPCL;

  // Any rate through BOTHER, for output and (via the CIBAUD field) input alike, so 250000 or 31250 read back
  // exactly; the kernel maps standard rates to their Bnnn codes itself.
  tio.c_cflag &= ~static_cast<tcflag_t>(CBAUD | (CBAUD << IBSHIFT));
  tio.c_cflag |= BOTHER | (BOTHER << IBSHIFT);
  tio.c_ispeed = static_cast<speed_t>(in[kBaudRate]);
  tio.c_ospeed = static_cast<speed_t>(in[kBaudRate]);

  // Reads never block in the kernel (the descriptor is O_NONBLOCK); VMIN=1/VTIME=0 makes readiness mean "at
  // least one byte", with no inter-byte timer delaying it.
  tio.c_cc[VMIN] = 1;
  tio.c_cc[VTIME] = 0;

  rc = Ioctl(fd, TCSETS2, &tio);
  if (rc < 0) return rc;
  return GetSettings(fd, out);
}

}  // namespace fdloop::serial
