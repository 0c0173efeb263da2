// Small POSIX helpers (descriptors, pipes, sockets, ptys) for users, tests, demos and benchmarks, shared by the
// POSIX backends (epoll; kqueue on macOS and FreeBSD). Each returns a non-negative result or -errno; the TypeScript
// layer validates arguments and throws ErrnoErrors. Linux-only calls (pipe2, accept4, SOCK_NONBLOCK, TIOCGPTPEER)
// are used where they exist and replaced by POSIX calls plus fcntl() elsewhere; eventfd exists on Linux only and
// returns -ENOSYS on other systems. The `features` object says which paths a build uses.
// FDLOOP_FORCE_PORTABLE (test-only) selects every fallback on Linux too.
#pragma once

#include <napi.h>

namespace fdloop::posix {

// The `sys` object of the addon: the functions plus a `constants` object.
Napi::Object CreateSys(Napi::Env env);

}  // namespace fdloop::posix
