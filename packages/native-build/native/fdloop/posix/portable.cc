#include "fdloop/posix/portable.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fdloop/posix/syscall.h"

namespace fdloop::posix {

int MakeNonBlockingCloexec(int fd) {
  const int flags = Syscall([&] { return fcntl(fd, F_GETFL); });
  if (flags < 0) return flags;
  if ((flags & O_NONBLOCK) == 0) {
    const int rc = Syscall([&] { return fcntl(fd, F_SETFL, flags | O_NONBLOCK); });
    if (rc < 0) return rc;
  }
  const int fdflags = Syscall([&] { return fcntl(fd, F_GETFD); });
  if (fdflags < 0) return fdflags;
  if ((fdflags & FD_CLOEXEC) == 0) {
    const int rc = Syscall([&] { return fcntl(fd, F_SETFD, fdflags | FD_CLOEXEC); });
    if (rc < 0) return rc;
  }
  return 0;
}

int PrepareSocket(int fd) {
#if defined(SO_NOSIGPIPE) && !defined(MSG_NOSIGNAL)
  const int one = 1;
  return Syscall([&] { return setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, sizeof(one)); });
#else
  (void)fd;
  return 0;
#endif
}

namespace {

// Finishes a descriptor made without flags (or, with `atomic`, with them): fcntl where needed, then
// PrepareSocket. Closes it on failure. Returns the descriptor or -errno.
int Finish(int fd, bool atomic) {
  if (fd < 0) return fd;
  int rc = atomic ? 0 : MakeNonBlockingCloexec(fd);
  if (rc == 0) rc = PrepareSocket(fd);
  if (rc < 0) {
    (void)CloseFd(fd);
    return rc;
  }
  return fd;
}

}  // namespace

int NewSocket(int family, int type) {
#if FDLOOP_SYS_SOCK_FLAGS
  return Finish(Syscall([&] { return socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0); }), true);
#else
  return Finish(Syscall([&] { return socket(family, type, 0); }), false);
#endif
}

int AcceptSocket(int fd) {
#if FDLOOP_SYS_ACCEPT4
  return Finish(Syscall([&] { return accept4(fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC); }), true);
#else
  return Finish(Syscall([&] { return accept(fd, nullptr, nullptr); }), false);
#endif
}

}  // namespace fdloop::posix
