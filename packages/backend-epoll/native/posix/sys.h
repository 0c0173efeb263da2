// Small POSIX helpers (descriptors, pipes, sockets, ptys) for users, tests, demos and benchmarks. Each returns a
// non-negative result or -errno; the TypeScript layer (src/sys.ts) validates arguments and throws ErrnoErrors.
#pragma once

#include <napi.h>

namespace fdloop::posix {

// The `sys` object of the addon: the functions plus a `constants` object.
Napi::Object CreateSys(Napi::Env env);

}  // namespace fdloop::posix
