// The socket system calls of Backend.net (packages/core/src/contract/net.ts) on Winsock. Results are
// non-negative, or minus a WSA/Win32 error code; src/net.ts turns those into minus Node's errno for Windows.
#pragma once

#include <napi.h>

#include "registry.h"

namespace fdloop_iocp {

/** The `net` object of the addon; its I/O functions report would-blocks to `registry` (edge re-arm). */
Napi::Object DefineNet(Napi::Env env, Registry* registry);

}  // namespace fdloop_iocp
