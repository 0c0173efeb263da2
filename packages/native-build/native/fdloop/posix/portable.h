// Descriptor and socket creation shared by sys.cc and sock.cc: the Linux conveniences (pipe2, accept4,
// SOCK_NONBLOCK/SOCK_CLOEXEC, MSG_NOSIGNAL, eventfd, TIOCGPTPEER) where the system has them, and elsewhere (macOS,
// the BSDs) the plain POSIX call followed by fcntl(). The fallbacks are not atomic: a fork+exec on another thread
// between the two calls could inherit the descriptor (Node itself spawns through libuv, which closes stray
// descriptors in the child, so this matters only to other native code).
//
// FDLOOP_FORCE_PORTABLE (a test-only compile definition; @fdloop/backend-kqueue's emulated Linux build sets it)
// turns every Linux-only path off, so that the fallbacks are compiled and tested on Linux too.
#pragma once

#include <sys/socket.h>

#if defined(FDLOOP_FORCE_PORTABLE)
#define FDLOOP_SYS_PIPE2 0
#define FDLOOP_SYS_SOCK_FLAGS 0
#define FDLOOP_SYS_ACCEPT4 0
#define FDLOOP_SYS_EVENTFD 0
#define FDLOOP_SYS_PTY_PEER 0
#define FDLOOP_SYS_OPENPT_FLAGS 0
#else
// pipe2 and accept4: Linux, FreeBSD 10+, NetBSD 6+, OpenBSD 5.7+, DragonFly; not macOS.
#if defined(__linux__) || defined(__FreeBSD__) || defined(__NetBSD__) || defined(__OpenBSD__) || \
    defined(__DragonFly__)
#define FDLOOP_SYS_PIPE2 1
#else
#define FDLOOP_SYS_PIPE2 0
#endif
#if defined(SOCK_NONBLOCK) && defined(SOCK_CLOEXEC)
#define FDLOOP_SYS_SOCK_FLAGS 1
#define FDLOOP_SYS_ACCEPT4 FDLOOP_SYS_PIPE2
#else
#define FDLOOP_SYS_SOCK_FLAGS 0
#define FDLOOP_SYS_ACCEPT4 0
#endif
// eventfd is Linux's (FreeBSD 13 has a compatible one, deliberately not used: the kqueue backend has EVFILT_USER).
#if defined(__linux__)
#define FDLOOP_SYS_EVENTFD 1
#else
#define FDLOOP_SYS_EVENTFD 0
#endif
// Opening the slave through the master (Linux 4.13+).
#if defined(TIOCGPTPEER)
#define FDLOOP_SYS_PTY_PEER 1
#else
#define FDLOOP_SYS_PTY_PEER 0
#endif
// posix_openpt with O_CLOEXEC and O_NONBLOCK: glibc passes the flags to open(); POSIX specifies only O_RDWR and
// O_NOCTTY, and macOS documents nothing else, so other systems get those two and fcntl() for the rest.
#if defined(__linux__)
#define FDLOOP_SYS_OPENPT_FLAGS 1
#else
#define FDLOOP_SYS_OPENPT_FLAGS 0
#endif
#endif

namespace fdloop::posix {

// Flags of every send: MSG_NOSIGNAL (Linux and the BSDs) makes a write to a closed peer EPIPE rather than SIGPIPE;
// macOS has only the per-socket SO_NOSIGPIPE, set by PrepareSocket.
#ifdef MSG_NOSIGNAL
constexpr int kSendFlags = MSG_NOSIGNAL;
#else
constexpr int kSendFlags = 0;
#endif

// O_NONBLOCK and FD_CLOEXEC for a descriptor created without them (the fallbacks, or a socket handed to adopt()).
// Returns 0 or -errno.
int MakeNonBlockingCloexec(int fd);

// What every socket we create or accept gets beyond non-blocking + close-on-exec: SO_NOSIGPIPE where send() has
// no MSG_NOSIGNAL (macOS). Returns 0 or -errno.
int PrepareSocket(int fd);

// A new socket of `family` and `type`, non-blocking and close-on-exec (atomically where SOCK_NONBLOCK exists),
// prepared by PrepareSocket. Returns the descriptor or -errno (nothing is left open on failure).
int NewSocket(int family, int type);

// accept() on a listening socket: the new descriptor non-blocking, close-on-exec and prepared (atomically where
// accept4 exists). Returns the descriptor or -errno (-EAGAIN when none is pending).
int AcceptSocket(int fd);

}  // namespace fdloop::posix
