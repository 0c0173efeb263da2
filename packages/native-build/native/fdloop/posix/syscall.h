// System-call helpers shared by every POSIX backend. Native functions report failures as `-errno` return values
// instead of throwing: the TypeScript layer owns error construction (ErrnoError with the syscall's name), and a
// plain integer cannot be lost the way a thread-local errno can once other code runs.
#pragma once

#include <cerrno>
#include <unistd.h>

namespace fdloop::posix {

// Runs `call` (a lambda around one system call that returns -1 and sets errno on failure) and returns its result,
// or `-errno` on failure. EINTR is retried: a signal landing on this thread (Node installs handlers, and a
// profiler's SIGPROF hits any thread) must not surface as a spurious failure. Only for calls that are safe to
// restart; see CloseFd for the exception.
template <typename Call>
inline auto Syscall(Call&& call) -> decltype(call()) {
  for (;;) {
    auto rc = call();
    if (rc >= 0) return rc;
    const int err = errno;
    if (err != EINTR) return static_cast<decltype(rc)>(-err);
  }
}

// close(2) returning 0 or -errno. Not retried on EINTR: Linux releases the descriptor before it can be
// interrupted, so a retry could close a descriptor number another thread has just been given. EINTR is therefore
// reported as success.
inline int CloseFd(int fd) {
  if (close(fd) == 0) return 0;
  const int err = errno;
  return err == EINTR ? 0 : -err;
}

}  // namespace fdloop::posix
